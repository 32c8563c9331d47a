"""The scene of a synthetic photo: four tags on a light background, one per quarter.

A real photo shows four engraved metal tags on a holder, one in each quarter;
each quarter is later cut out as one image. :func:`sample_tag` places a tag in
its quarter, :func:`tag_coverage` draws the tags' silhouettes (rounded corners,
a punched hole), :func:`background` the light backdrop with the clamps that
hold the tags. Sizes are fractions of the quarter, so any crop size works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from qiloop.synth.texture import smooth_field


@dataclass(frozen=True)
class Tag:
    """One tag: centre, size and tilt in photo pixels, with its hole and metal tone."""

    cx: float
    cy: float
    width: float
    height: float
    angle: float  # radians, small
    corner: float
    hole: tuple[float, float, float]  # x, y, radius
    level: float  # grey level of the bare metal

    def to_photo(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tag-local coordinates (from the centre, along the tag's edges) to photo pixels."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        return self.cx + u * c - v * s, self.cy + u * s + v * c

    def to_local(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Photo pixels to tag-local coordinates (the inverse of :meth:`to_photo`)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = x - self.cx, y - self.cy
        return dx * c + dy * s, -dx * s + dy * c

    @property
    def area(self) -> tuple[float, float, float, float]:
        """The axis-aligned inner area (x0, y0, x1, y1) where scratches may start."""
        w, h = self.width, self.height  # away from the hole and the rim, as on the real tags
        return (self.cx - 0.37 * w, self.cy - 0.36 * h, self.cx + 0.45 * w, self.cy + 0.44 * h)


def sample_tag(rng: np.random.Generator, cell: tuple[int, int, int, int]) -> Tag:
    """A tag placed, sized and tilted at random inside one quarter ``cell`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = cell
    cw, ch = x1 - x0, y1 - y0
    width, height = cw * rng.uniform(0.86, 0.94), ch * rng.uniform(0.80, 0.87)
    cx = (x0 + x1) / 2 + rng.uniform(-0.8, 0.8) * (cw - width) / 2
    cy = (y0 + y1) / 2 + rng.uniform(-0.2, 0.7) * (ch - height) / 2
    angle = math.radians(rng.uniform(-1.2, 1.2))
    tag = Tag(cx, cy, width, height, angle, corner=0.022 * cw, hole=(0, 0, 0), level=rng.uniform(74, 112))
    hx, hy = tag.to_photo(np.array(-width / 2 + 0.065 * width), np.array(-height / 2 + 0.095 * height))
    radius = cw * rng.uniform(0.021, 0.027)
    return Tag(**{**tag.__dict__, "hole": (float(hx), float(hy), radius)})


def _outline(tag: Tag, arc_points: int = 8) -> list[tuple[float, float]]:
    hw, hh, r = tag.width / 2, tag.height / 2, tag.corner
    us, vs = [], []
    for (ux, vy), start in (((hw - r, hh - r), 0.0), ((-hw + r, hh - r), 90.0),
                            ((-hw + r, -hh + r), 180.0), ((hw - r, -hh + r), 270.0)):  # fmt: skip
        t = np.radians(start + np.linspace(0, 90, arc_points))
        us.append(ux + r * np.cos(t))
        vs.append(vy + r * np.sin(t))
    x, y = tag.to_photo(np.concatenate(us), np.concatenate(vs))
    return list(zip(x.tolist(), y.tolist(), strict=True))


def tag_coverage(tags: list[Tag], shape: tuple[int, int], supersample: int = 4) -> np.ndarray:
    """How much of each pixel is metal (0..1): the tags' silhouettes minus their holes."""
    s = supersample
    canvas = Image.new("L", (shape[1] * s, shape[0] * s), 0)
    draw = ImageDraw.Draw(canvas)
    for tag in tags:
        draw.polygon([(x * s, y * s) for x, y in _outline(tag)], fill=255)
        hx, hy, hr = tag.hole
        draw.ellipse([(hx - hr) * s, (hy - hr) * s, (hx + hr) * s, (hy + hr) * s], fill=0)
    return np.asarray(canvas.reduce(s), dtype=np.float32) / 255.0


def background(rng: np.random.Generator, shape: tuple[int, int], tags: list[Tag]) -> np.ndarray:
    """The light backdrop: near-white card, a soft gradient, and a striped clamp per tag."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    gx, gy = rng.uniform(-12, 12, size=2)
    bg = rng.uniform(246, 275) + gx * (xx / width - 0.5) + gy * (yy / height - 0.5)
    bg += 5 * smooth_field(rng, shape, (3, 4))
    for tag in tags:
        top, bottom = tag.cy - tag.height / 2, tag.cy + tag.height / 2
        cell_top = height / 2 if tag.cy > height / 2 else 0
        cell_bottom = height if tag.cy > height / 2 else height / 2
        _clamp(rng, bg, tag, (cell_top, top + 0.05 * tag.height))
        if rng.random() < 0.6:
            _clamp(rng, bg, tag, (bottom - 0.03 * tag.height, cell_bottom), stripes=False)
    return bg


def _clamp(rng: np.random.Generator, bg: np.ndarray, tag: Tag, span: tuple[float, float], stripes: bool = True) -> None:
    x0 = tag.cx + rng.uniform(-0.3, 0.0) * tag.width
    x1 = x0 + rng.uniform(0.3, 0.5) * tag.width
    rows = slice(max(0, round(span[0])), max(0, round(span[1])))
    cols = slice(max(0, round(x0)), max(0, round(x1)))
    region = bg[rows, cols]
    if region.size == 0:
        return
    region[:] = rng.uniform(150, 215) + 3 * rng.standard_normal((region.shape[0], 1))
    if stripes:
        for _ in range(rng.integers(2, 6)):
            r = rng.integers(0, region.shape[0])
            region[r : r + rng.integers(1, 3)] -= rng.uniform(25, 70)
    if rng.random() < 0.5:  # a second, brighter plate beside the clamp
        cut = rng.integers(0, region.shape[1])
        region[:, cut:] = np.maximum(region[:, cut:], rng.uniform(200, 240))
