"""Image-wide NumPy helpers: smooth random fields, brushing streaks, blur, sensor noise.

They work on float32 grey images and never leave NumPy + Pillow, so the
generator runs wherever the base install does.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def _resized(values: np.ndarray, shape: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    field = Image.fromarray(values.astype(np.float32), mode="F").resize((shape[1], shape[0]), resample)
    out = np.asarray(field, dtype=np.float32)
    std = float(out.std())
    return (out - out.mean()) / std if std > 0 else out


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """A slowly varying random field of unit spread: ``cells`` (rows, cols) random knots, bicubic between.

    Uneven light, blotches and stains are such fields scaled and added.
    """
    return _resized(rng.standard_normal(cells), shape, Image.Resampling.BICUBIC)


def streaks(rng: np.random.Generator, shape: tuple[int, int], length: float) -> np.ndarray:
    """Horizontal streaks about ``length`` pixels long, of unit spread: the look of brushed metal."""
    cols = max(2, round(shape[1] / max(length, 1.0)))
    return _resized(rng.standard_normal((shape[0], cols)), shape, Image.Resampling.BILINEAR)


def _kernel(sigma: float) -> np.ndarray:
    radius = max(1, math.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float image (edges repeat), as a camera's optics soften it."""
    if sigma <= 0:
        return image.astype(np.float32, copy=True)
    k = _kernel(sigma)
    r = len(k) // 2
    out = image.astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="edge")
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for i, w in enumerate(k):
            acc += w * (padded[i : i + n] if axis == 0 else padded[:, i : i + n])
        out = acc
    return out


def sensor_noise(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Add grey-level noise whose spread grows a little with brightness, as a sensor's does."""
    scale = sigma * (0.7 + 0.6 * np.clip(image, 0, 255) / 255)
    return image + scale * rng.standard_normal(image.shape, dtype=np.float32)
