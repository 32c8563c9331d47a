"""A whole synthetic photo of four tags, its four crops, and the scratch boxes of each.

:func:`render_photo` composes a scene (backdrop, tags, marks, scratches, light,
blur, noise) on a canvas twice the crop size each way; :meth:`Photo.crops` cuts
it into the four quarters that become images, each with the tight boxes of the
scratches it shows and the mask of those scratches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qiloop.core.records import Box
from qiloop.synth.metal import marks, paint_surface
from qiloop.synth.scene import Tag, background, sample_tag, tag_coverage
from qiloop.synth.scratches import sample_count, sample_scratch, stamp_box, visible
from qiloop.synth.strokes import Stamp, composite, draw_polyline
from qiloop.synth.texture import gaussian_blur, sensor_noise, smooth_field

# Crop names as in the real data: column then row of the quarter.
POSITIONS = ("left-top", "right-top", "left-bottom", "right-bottom")
REFERENCE_SIZE = (450, 300)
GOOD_PHOTO_RATE = 0.25  # photos with no scratch at all


@dataclass(frozen=True)
class Crop:
    """One quarter of a photo: the image, its scratch boxes and the mask of those scratches."""

    position: str
    image: np.ndarray  # uint8 (h, w) grey
    boxes: tuple[Box, ...]
    mask: np.ndarray  # float32 (h, w): alpha of the labelled scratches
    metal: np.ndarray  # float32 (h, w): how much of each pixel is tag


@dataclass(frozen=True)
class Photo:
    """A rendered photo: the grey image, the scratches drawn on it, and the crop size."""

    image: np.ndarray  # uint8 (2h, 2w)
    scratches: tuple[Stamp, ...]
    metal: np.ndarray
    tags: tuple[Tag, ...]
    crop_size: tuple[int, int]
    jpeg_quality: int

    def crops(self) -> list[Crop]:
        """The four quarters, in :data:`POSITIONS` order, with boxes clipped to each."""
        w, h = self.crop_size
        out = []
        for position in POSITIONS:
            x0 = w if position.startswith("right") else 0
            y0 = h if position.endswith("bottom") else 0
            region = (x0, y0, x0 + w, y0 + h)
            boxes, mask = [], np.zeros((h, w), dtype=np.float32)
            for stamp in self.scratches:
                box = stamp_box(stamp, region)
                if box is not None:
                    boxes.append(box)
                    _paste_max(mask, stamp, x0, y0)
            image = self.image[y0 : y0 + h, x0 : x0 + w].copy()
            out.append(Crop(position, image, tuple(boxes), mask, self.metal[y0 : y0 + h, x0 : x0 + w]))
        return out


def _paste_max(mask: np.ndarray, stamp: Stamp, x0: int, y0: int) -> None:
    h, w = mask.shape
    top, left = max(stamp.top, y0), max(stamp.left, x0)
    bottom, right = min(stamp.bottom, y0 + h), min(stamp.right, x0 + w)
    if bottom > top and right > left:
        part = stamp.alpha[top - stamp.top : bottom - stamp.top, left - stamp.left : right - stamp.left]
        view = mask[top - y0 : bottom - y0, left - x0 : right - x0]
        np.maximum(view, part, out=view)


def render_photo(
    rng: np.random.Generator,
    crop_size: tuple[int, int] = REFERENCE_SIZE,
    *,
    good: bool | None = None,
    clean: bool = False,
) -> Photo:
    """Render one photo of four tags, ``2 * crop_size`` pixels, with its scratches.

    Args:
        rng: the only source of randomness; the same generator state gives the same photo.
        crop_size: ``(width, height)`` of one quarter.
        good: force a photo without scratches (``True``) or with (``False``); by
            default about :data:`GOOD_PHOTO_RATE` of photos are good.
        clean: skip blur and sensor noise (for checks that compare pixels with boxes).
    """
    w, h = crop_size
    shape = (2 * h, 2 * w)
    scale = min(w / REFERENCE_SIZE[0], h / REFERENCE_SIZE[1])
    tags = [sample_tag(rng, (qx * w, qy * h, (qx + 1) * w, (qy + 1) * h)) for qy in (0, 1) for qx in (0, 1)]
    metal = tag_coverage(tags, shape)
    image = background(rng, shape, tags)
    image += metal * (paint_surface(rng, shape, tags, scale) - image)
    for tag in tags:
        for stamp, delta in marks(rng, tag, shape, scale):
            rows, cols = stamp.window
            image[rows, cols] += stamp.alpha * metal[rows, cols] * delta
    is_good = rng.random() < GOOD_PHOTO_RATE if good is None else good
    drawn: list[Stamp] = []
    for tag in tags:
        for _ in range(0 if is_good else sample_count(rng)):
            scratch = sample_scratch(rng, tag, scale)
            stamp = draw_polyline(scratch.points, scratch.widths, scratch.values, shape)
            if stamp is None:
                continue
            on_metal = stamp.masked(metal)
            if visible(stamp, on_metal):
                composite(image, on_metal, scratch.brightness)
                drawn.append(on_metal)
    image *= _vignette(rng, shape) * (1 + 0.03 * smooth_field(rng, shape, (3, 4)))
    blur, noise, quality = rng.uniform(0.6, 1.2), rng.uniform(1.2, 3.0), int(rng.integers(82, 95))
    if not clean:  # drawn last, so a clean render shows the very same scene
        image = sensor_noise(rng, gaussian_blur(image, blur), noise)
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return Photo(pixels, tuple(drawn), metal, tuple(tags), (w, h), quality)


def _vignette(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    ys = np.linspace(-1, 1, shape[0], dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, shape[1], dtype=np.float32)[None, :]
    cx, cy = rng.uniform(-0.3, 0.3, size=2)
    return 1.0 - rng.uniform(0.02, 0.07) * ((xs - cx) ** 2 + (ys - cy) ** 2)


def render_crop(
    rng: np.random.Generator,
    crop_size: tuple[int, int] = REFERENCE_SIZE,
    position: str = "left-top",
    *,
    good: bool | None = None,
    clean: bool = False,
) -> Crop:
    """One image: the ``position`` quarter of a photo rendered by :func:`render_photo`."""
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {', '.join(POSITIONS)}, not {position!r}")
    return render_photo(rng, crop_size, good=good, clean=clean).crops()[POSITIONS.index(position)]
