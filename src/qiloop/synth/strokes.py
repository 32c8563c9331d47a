"""Anti-aliased strokes: a polyline drawn at a higher resolution, then averaged down.

Every mark on a synthetic tag (a scratch, a wear mark, an engraved line) is a
polyline whose width and intensity vary along its length. Pillow draws it on a
small canvas ``supersample`` times larger than the image, and a box filter
brings it back: the result is a coverage map (alpha) with soft, exact edges.
Only the window around the stroke is kept, so a photo's strokes cost little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Stamp:
    """A stroke's alpha (0..1) in a window whose top-left pixel is (``top``, ``left``)."""

    alpha: np.ndarray
    top: int
    left: int

    @property
    def bottom(self) -> int:
        return self.top + self.alpha.shape[0]

    @property
    def right(self) -> int:
        return self.left + self.alpha.shape[1]

    @property
    def window(self) -> tuple[slice, slice]:
        """The slices of the full canvas this stamp covers."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def masked(self, coverage: np.ndarray) -> Stamp:
        """This stamp limited to where ``coverage`` (a full-canvas 0..1 map) allows it."""
        return Stamp(self.alpha * coverage[self.window], self.top, self.left)


def draw_polyline(
    points: np.ndarray,
    widths: np.ndarray,
    values: np.ndarray,
    shape: tuple[int, int],
    supersample: int = 4,
) -> Stamp | None:
    """Rasterise a polyline of varying width and intensity into a :class:`Stamp`.

    Args:
        points: ``(k, 2)`` vertices as ``x, y`` in pixels of the target image.
        widths: ``(k,)`` stroke width at each vertex, in pixels.
        values: ``(k,)`` intensity at each vertex, 0..1 (0 leaves a gap).
        shape: ``(height, width)`` of the target image; the stamp is clipped to it.
        supersample: drawing resolution factor; 4 gives smooth edges at low cost.

    Returns:
        The stamp, or ``None`` when the stroke lies wholly outside the image.
    """
    points = np.asarray(points, dtype=np.float64)
    pad = float(np.max(widths)) / 2 + 2
    height, width = shape
    x0 = max(0, math.floor(points[:, 0].min() - pad))
    y0 = max(0, math.floor(points[:, 1].min() - pad))
    x1 = min(width, math.ceil(points[:, 0].max() + pad))
    y1 = min(height, math.ceil(points[:, 1].max() + pad))
    if x1 <= x0 or y1 <= y0:
        return None
    s = supersample
    canvas = Image.new("L", ((x1 - x0) * s, (y1 - y0) * s), 0)
    draw = ImageDraw.Draw(canvas)
    local = (points - (x0, y0)) * s
    seg_w = (widths[:-1] + widths[1:]) * (s / 2)
    seg_v = np.rint((values[:-1] + values[1:]) * 127.5).astype(int)
    for (ax, ay), (bx, by), w, v in zip(local[:-1], local[1:], seg_w, seg_v, strict=True):
        if v <= 0:
            continue
        draw.line([(ax, ay), (bx, by)], fill=int(v), width=max(1, round(w)))
        r = w / 2
        if r >= 1:  # a round joint, so bends and ends stay smooth
            draw.ellipse([bx - r, by - r, bx + r, by + r], fill=int(v))
    alpha = np.asarray(canvas.reduce(s), dtype=np.float32) / 255.0
    return Stamp(alpha, y0, x0)


def composite(image: np.ndarray, stamp: Stamp, target: float | np.ndarray) -> None:
    """Blend ``target`` into ``image`` (float, in place) with the stamp's alpha."""
    rows, cols = stamp.window
    region = image[rows, cols]
    tgt = target[rows, cols] if isinstance(target, np.ndarray) else target
    region += stamp.alpha * (tgt - region)
