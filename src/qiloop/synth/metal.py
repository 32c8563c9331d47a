"""The metal of a tag: tone, uneven light, brushing, edge shading, wear and engraving.

:func:`paint_surface` gives each tag its grey surface (a tone, a light
gradient, blotches, horizontal brushing, a dark rim and sometimes a shadowed
edge or a specular band). :func:`marks` gives the unlabelled marks every used
tag carries: faint short wear lines, specks, and engraved text or a border.
They are faint on purpose: a labeller would not box them, so neither do we.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from qiloop.synth.scene import Tag
from qiloop.synth.scratches import curved_path
from qiloop.synth.strokes import Stamp, draw_polyline
from qiloop.synth.texture import smooth_field, streaks

Mark = tuple[Stamp, float]  # a stroke and the grey-level change at full alpha


def _window(tag: Tag, shape: tuple[int, int]) -> tuple[slice, slice]:
    half = 0.5 * (abs(tag.width * math.cos(tag.angle)) + abs(tag.height * math.sin(tag.angle))) + 3
    halfh = 0.5 * (abs(tag.width * math.sin(tag.angle)) + abs(tag.height * math.cos(tag.angle))) + 3
    rows = slice(max(0, math.floor(tag.cy - halfh)), min(shape[0], math.ceil(tag.cy + halfh)))
    cols = slice(max(0, math.floor(tag.cx - half)), min(shape[1], math.ceil(tag.cx + half)))
    return rows, cols


def paint_surface(rng: np.random.Generator, shape: tuple[int, int], tags: list[Tag], scale: float) -> np.ndarray:
    """The grey surface of every tag on a ``shape`` canvas (meaningful only where the tags are)."""
    surface = np.zeros(shape, dtype=np.float32)
    for tag in tags:
        rows, cols = _window(tag, shape)
        wshape = (rows.stop - rows.start, cols.stop - cols.start)
        yy, xx = np.mgrid[rows, cols].astype(np.float32)
        u, v = tag.to_local(xx, yy)
        un, vn = u / (tag.width / 2), v / (tag.height / 2)
        gx, gy = rng.uniform(-14, 14, size=2)
        s = tag.level + gx * un + gy * vn
        s += rng.uniform(1.5, 4) * smooth_field(rng, wshape, (4, 6))
        s += rng.uniform(0.5, 1.6) * streaks(rng, wshape, 80 * scale) + rng.uniform(0.3, 1.0) * streaks(rng, wshape, 10)
        if rng.random() < 0.8:  # the edge that faces away from the lamp
            band = scale * rng.uniform(5, 20)
            s *= 1 - rng.uniform(0.25, 0.6) * np.exp(-(u + tag.width / 2) / band)
        if rng.random() < 0.5:  # a soft specular band across the tag
            phi = rng.uniform(0, math.pi)
            d = un * math.cos(phi) + vn * math.sin(phi) - rng.uniform(-0.8, 0.8)
            s += rng.uniform(8, 26) * np.exp(-((d / rng.uniform(0.15, 0.5)) ** 2))
        rim = np.minimum(tag.width / 2 - np.abs(u), tag.height / 2 - np.abs(v))
        s -= rng.uniform(8, 25) * np.exp(-np.clip(rim, 0, None) / (1.5 * scale))
        if rng.random() < 0.4:  # the lit edge on the far side
            s += rng.uniform(20, 70) * np.exp(-np.clip(tag.width / 2 - u, 0, None) / (1.2 * scale))
        surface[rows, cols] = s
    return surface


def marks(rng: np.random.Generator, tag: Tag, shape: tuple[int, int], scale: float) -> list[Mark]:
    """The unlabelled marks of one tag: wear lines, specks, and maybe an engraving."""
    out: list[Mark] = []
    x0, y0 = tag.cx - 0.47 * tag.width, tag.cy - 0.46 * tag.height  # wear reaches the rim
    x1, y1 = tag.cx + 0.47 * tag.width, tag.cy + 0.46 * tag.height
    for _ in range(rng.poisson(18)):
        centre = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        length = scale * rng.uniform(6, 70)
        pts = curved_path(rng, centre, length, rng.uniform(0, 2 * math.pi), rng.normal(0, 0.015) / scale, 0.02)
        n = len(pts)
        widths = np.full(n, scale * rng.uniform(0.6, 1.4))
        values = np.sin(np.linspace(0, math.pi, n)) ** 0.5
        stamp = draw_polyline(pts, widths, values, shape)
        delta = rng.uniform(5, 20) if rng.random() < 0.75 else -rng.uniform(5, 18)
        if stamp is not None:
            out.append((stamp, float(delta)))
    hx, hy, hr = tag.hole
    for _ in range(rng.poisson(7)):  # specks, mostly around the hole
        near = rng.random() < 0.6
        cx = hx + rng.normal(0, 2.5 * hr) if near else rng.uniform(x0, x1)
        cy = hy + rng.normal(0, 2.5 * hr) if near else rng.uniform(y0, y1)
        pts = np.array([[cx, cy], [cx + rng.uniform(-1, 1), cy + rng.uniform(-1, 1)]])
        stamp = draw_polyline(pts, np.full(2, scale * rng.uniform(1.5, 3)), np.ones(2), shape)
        if stamp is not None:
            out.append((stamp, float(rng.uniform(10, 35))))
    if rng.random() < 0.3:
        out.extend(_engraving(rng, tag, shape, scale))
    return out


def _engraving(rng: np.random.Generator, tag: Tag, shape: tuple[int, int], scale: float) -> list[Mark]:
    """Engraved text (a serial number) and sometimes a border line: faint dark grooves with a lit edge."""
    rows, cols = _window(tag, shape)
    layer = Image.new("L", (cols.stop - cols.start, rows.stop - rows.start), 0)
    draw = ImageDraw.Draw(layer)
    letters = "".join(rng.choice(list("ABCDEFGHKLMNPRSTXZ"), size=2))
    text = f"{letters}-{rng.integers(0, 10000):04d}" if rng.random() < 0.7 else f"NO {rng.integers(1, 1000)}"
    font = ImageFont.load_default(size=max(6, round(tag.height * rng.uniform(0.07, 0.11))))
    tx = tag.cx + tag.width * rng.uniform(0.0, 0.22) - cols.start
    ty = tag.cy + tag.height * rng.choice([-0.42, 0.28]) - rows.start
    draw.text((tx, ty), text, fill=255, font=font)
    if rng.random() < 0.35:
        inset = 0.045 * tag.width
        box = [tag.cx - tag.width / 2 + inset - cols.start, tag.cy - tag.height / 2 + inset - rows.start,
               tag.cx + tag.width / 2 - inset - cols.start, tag.cy + tag.height / 2 - inset - rows.start]  # fmt: skip
        draw.rounded_rectangle(box, radius=tag.corner, outline=255, width=max(1, round(scale)))
    groove = np.asarray(layer, dtype=np.float32) / 255.0
    lit = np.zeros_like(groove)
    lit[1:, 1:] = groove[:-1, :-1]  # light catches the groove's lower edge
    depth = rng.uniform(4, 11)
    return [
        (Stamp(groove, rows.start, cols.start), -depth),
        (Stamp(lit * (1 - groove), rows.start, cols.start), depth / 3),
    ]
