"""Scratches: thin bright curved strokes on the metal, and the tight boxes around them.

A scratch is a gently curving path (a heading that turns at a steady rate plus
a little wobble) drawn with tapered ends; some are beaded (bright dots along a
faint line), some are faint. Its box is the tight box of the pixels it visibly
covers (alpha at least :data:`ALPHA_VISIBLE`) inside a region, in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qiloop.core.records import Box
from qiloop.synth.scene import Tag
from qiloop.synth.strokes import Stamp

ALPHA_VISIBLE = 0.25  # a pixel belongs to a scratch from this coverage on
MIN_PIXELS = 12  # fewer visible pixels: too small to label
MIN_LENGTH = 8  # a box whose longer side is shorter: too small to label
MIN_SIDE = 4  # a thin, straight scratch's box is widened to this many pixels

# How many scratches a scratched tag has (0..6), after the real data's spread.
COUNT_WEIGHTS = np.array([0.04, 0.20, 0.38, 0.22, 0.09, 0.04, 0.03])


@dataclass(frozen=True)
class Scratch:
    """A scratch to draw: vertices, width and intensity along it, and its grey level."""

    points: np.ndarray
    widths: np.ndarray
    values: np.ndarray
    brightness: float


def curved_path(
    rng: np.random.Generator,
    centre: tuple[float, float],
    length: float,
    heading: float,
    curvature: float,
    wobble: float = 0.01,
    step: float = 1.5,
) -> np.ndarray:
    """A ``(k, 2)`` path of ``length`` pixels centred on ``centre``, turning ``curvature`` rad/px."""
    n = max(2, math.ceil(length / step)) + 1
    s = np.linspace(-length / 2, length / 2, n)
    drift = np.cumsum(rng.normal(0.0, wobble, n))
    theta = heading + curvature * s + drift - drift[n // 2]
    ds = np.diff(s)
    steps = np.stack([np.cos(theta[:-1]) * ds, np.sin(theta[:-1]) * ds], axis=1)
    pts = np.vstack([[0.0, 0.0], np.cumsum(steps, axis=0)])
    return pts - pts[n // 2] + centre


def _along(rng: np.random.Generator, n: int, knots: int) -> np.ndarray:
    """A smooth random profile of ``n`` values in -1..1 along a stroke."""
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, knots), rng.uniform(-1, 1, knots))


def sample_count(rng: np.random.Generator) -> int:
    """How many scratches one scratched tag gets."""
    return int(rng.choice(len(COUNT_WEIGHTS), p=COUNT_WEIGHTS))


def sample_scratch(rng: np.random.Generator, tag: Tag, scale: float) -> Scratch:
    """One random scratch whose middle lies on ``tag``; ``scale`` is the crop size over 450x300."""
    x0, y0, x1, y1 = tag.area
    fx, fy = rng.beta(2.0, 2.0, size=2)  # most scratches near the middle, as on the real tags
    centre = (x0 + fx * (x1 - x0), y0 + fy * (y1 - y0))
    length = scale * float(np.clip(rng.lognormal(math.log(110), 0.5), 28, 280))
    turn = rng.normal(0, 0.6 if rng.random() < 0.25 else 0.2)  # radians from end to end
    curvature = float(np.clip(turn, -1.0, 1.0)) / length
    pts = _fit(curved_path(rng, centre, length, rng.uniform(0, math.pi), curvature, wobble=0.006), tag.area)
    n = len(pts)
    t = np.linspace(0, 1, n)
    taper = np.clip(np.sin(np.pi * t) * rng.uniform(3, 8), 0, 1) ** 0.5
    faint = rng.random() < 0.15
    width = scale * rng.uniform(1.6, 2.8 if faint else 5.5)
    widths = width * (0.35 + 0.65 * taper) * (1 + 0.15 * _along(rng, n, 6))
    values = np.clip(0.85 + 0.15 * _along(rng, n, 8), 0, 1) * taper
    if rng.random() < 0.35:  # beaded: bright grains along a fainter line
        period = scale * rng.uniform(4, 11)
        grains = _along(rng, n, max(3, round(length / period)))
        values = values * np.where(grains > rng.uniform(-0.5, 0.3), 1.0, rng.uniform(0.15, 0.45))
    brightness = tag.level + rng.uniform(90, 150) if faint else rng.uniform(255, 350)
    return Scratch(pts, widths, values, float(brightness))


def _fit(points: np.ndarray, area: tuple[float, float, float, float]) -> np.ndarray:
    """Shift a path the least so it lies inside ``area`` (centred on an axis where it cannot)."""
    shift = []
    for axis, (lo, hi) in enumerate(((area[0], area[2]), (area[1], area[3]))):
        a, b = float(points[:, axis].min()), float(points[:, axis].max())
        shift.append((lo + hi - a - b) / 2 if b - a > hi - lo else max(lo - a, min(0.0, hi - b)))
    return points + shift


def visible(stamp: Stamp, on_metal: Stamp, min_on_metal: float = 0.6) -> bool:
    """Whether a scratch is worth drawing and labelling: big enough, and mostly on the tag."""
    total = float(stamp.alpha.sum())
    if total <= 0 or float(on_metal.alpha.sum()) < min_on_metal * total:
        return False
    return int((on_metal.alpha >= ALPHA_VISIBLE).sum()) >= MIN_PIXELS


def stamp_box(stamp: Stamp, region: tuple[int, int, int, int]) -> Box | None:
    """The tight box of a stamp's visible pixels inside ``region`` (x0, y0, x1, y1), in region pixels.

    Returns ``None`` when too little of the stroke lies in the region to label it.
    A box thinner than :data:`MIN_SIDE` (a straight scratch along a pixel row) is
    widened around its middle to that size, staying inside the region.
    """
    rx0, ry0, rx1, ry1 = region
    top, left = max(stamp.top, ry0), max(stamp.left, rx0)
    bottom, right = min(stamp.bottom, ry1), min(stamp.right, rx1)
    if bottom <= top or right <= left:
        return None
    seen = stamp.alpha[top - stamp.top : bottom - stamp.top, left - stamp.left : right - stamp.left] >= ALPHA_VISIBLE
    if int(seen.sum()) < MIN_PIXELS:
        return None
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    x0, x1 = left - rx0 + int(cols[0]), left - rx0 + int(cols[-1]) + 1
    y0, y1 = top - ry0 + int(rows[0]), top - ry0 + int(rows[-1]) + 1
    if max(x1 - x0, y1 - y0) < MIN_LENGTH:
        return None
    x0, x1 = _widen(x0, x1, rx1 - rx0)
    y0, y1 = _widen(y0, y1, ry1 - ry0)
    return Box.from_xyxy(x0, y0, x1, y1, class_id=0)


def _widen(a: int, b: int, limit: int) -> tuple[int, int]:
    if b - a >= MIN_SIDE:
        return a, b
    a = max(0, min(a - (MIN_SIDE - (b - a)) // 2, limit - MIN_SIDE))
    return a, min(limit, a + MIN_SIDE)
