"""Bilinear resize of 8-bit images, bit-exact with OpenCV's ``INTER_LINEAR``.

Models trained by ultralytics saw images resized by OpenCV; resizing the same
way on the device keeps its scores equal to the validated ones without
shipping OpenCV. OpenCV works in fixed point: weights in 1/2048, a horizontal
pass, then a vertical pass that drops 4 bits, multiplies keeping the high 16
bits, and rounds by 2 bits. This module does the same arithmetic in NumPy,
and hands the work to OpenCV itself where the process has already loaded it
(a camera source, the ``camera`` extra): the same pixels, ten times faster.

Large temporaries are the cost here (fresh multi-megabyte arrays fault their
pages in on every call), so each thread keeps a small cache of plans holding
the indices, weights and work buffers for a (source, target) size. The cache
is bounded in bytes as well as in plans: a plan larger than the budget is used
once and dropped, and :func:`forget_plans` gives a thread's plans back.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

COEF_BITS = 11
COEF_SCALE = 1 << COEF_BITS
_MAX_PLANS = 8
_MAX_CACHED_BYTES = 256 << 20  # per thread: a 12 Mpx camera's plan fits, a stream of odd shapes does not pile up


def axis_weights(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices ``i0``, ``i1`` and the fixed-point weight of ``i0`` along one axis.

    Half-pixel centres, computed in float32 as OpenCV does; positions outside
    the image repeat the edge pixel.
    """
    pos = ((np.arange(dst) + 0.5) * (src / dst) - 0.5).astype(np.float32)
    i0 = np.floor(pos).astype(np.int64)
    frac = pos - i0
    frac[(i0 < 0) | (i0 >= src - 1)] = 0
    i0 = i0.clip(0, src - 1)
    i1 = np.minimum(i0 + 1, src - 1)
    w1 = np.rint(frac * COEF_SCALE).astype(np.int32)
    return i0, i1, (COEF_SCALE - w1).astype(np.int32)


class _Plan:
    """Indices, weights and buffers for one (source, target) size; used by one thread."""

    def __init__(self, src_shape: tuple[int, int, int], size: tuple[int, int]) -> None:
        (sh, sw, c), (h, w) = src_shape, size
        y0, y1, wy0 = axis_weights(sh, h)
        x0, x1, wx0 = axis_weights(sw, w)
        channels = np.arange(c)
        self.cols0 = (x0[:, None] * c + channels).ravel()
        self.cols1 = (x1[:, None] * c + channels).ravel()
        self.wx0 = np.repeat(wx0, c)
        self.wx1 = COEF_SCALE - self.wx0
        self.y0, self.y1 = y0, y1
        self.wy0 = wy0[:, None]
        self.wy1 = COEF_SCALE - self.wy0
        self.src = np.empty((sh, sw * c), np.int32)
        self.h0, self.h1 = np.empty((sh, w * c), np.int32), np.empty((sh, w * c), np.int32)
        self.v0, self.v1 = np.empty((h, w * c), np.int32), np.empty((h, w * c), np.int32)
        self.shape = (h, w, c)
        self.nbytes = self.src.nbytes + 2 * self.h0.nbytes + 2 * self.v0.nbytes

    def run(self, image: np.ndarray, out: np.ndarray) -> None:
        np.copyto(self.src, image.reshape(image.shape[0], -1), casting="unsafe")
        h0, h1, v0, v1 = self.h0, self.h1, self.v0, self.v1
        np.take(self.src, self.cols0, axis=1, out=h0)
        h0 *= self.wx0
        np.take(self.src, self.cols1, axis=1, out=h1)
        h1 *= self.wx1
        h0 += h1
        h0 >>= 4
        np.take(h0, self.y0, axis=0, out=v0)
        v0 *= self.wy0
        v0 >>= 16
        np.take(h0, self.y1, axis=0, out=v1)
        v1 *= self.wy1
        v1 >>= 16
        v0 += v1
        v0 += 2
        v0 >>= 2
        np.copyto(out, v0.reshape(self.shape), casting="unsafe")


class _Plans(threading.local):
    def __init__(self) -> None:
        self.by_size: dict[tuple, _Plan] = {}


_plans = _Plans()


def forget_plans() -> None:
    """Drop the calling thread's cached resize plans (their buffers go back to the allocator)."""
    _plans.by_size.clear()


def opencv(load: bool = False):
    """The ``cv2`` module, or None: the one this process already loaded, or with ``load`` imported here.

    ``auto`` never imports OpenCV for resizing alone (it costs a device start-up
    time and memory); a process whose camera source already loaded it resizes with it.
    """
    module = sys.modules.get("cv2")
    if module is None and load:
        try:
            import cv2 as module
        except ImportError:  # the edge install alone: the NumPy port does the same arithmetic
            return None
    return module


BACKENDS = ("auto", "numpy", "opencv")


def resize_bilinear(
    image: np.ndarray, size: tuple[int, int], out: np.ndarray | None = None, *, backend: str = "auto"
) -> np.ndarray:
    """Resize an ``HxWxC`` uint8 array to ``size`` (h, w) like ``cv2.resize(..., INTER_LINEAR)``.

    With ``backend="auto"`` OpenCV itself resizes when this process has already
    loaded it (a camera source does; about ten times faster than the port, and the
    very same pixels); otherwise the NumPy port.

    Args:
        image: The source pixels.
        size: Target ``(height, width)``.
        out: Where to write the result (``h x w x C`` uint8, may be a view);
            a new array when omitted.
        backend: ``auto``, ``numpy`` (the port) or ``opencv`` (refused when OpenCV is missing).

    Example:
        >>> resize_bilinear(np.full((2, 2, 3), 200, np.uint8), (3, 5)).shape
        (3, 5, 3)
    """
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected an HxWxC uint8 array, got {image.dtype} {image.shape}")
    h, w = size
    if out is None:
        out = np.empty((h, w, image.shape[2]), np.uint8)
    if image.shape[:2] == (h, w):
        np.copyto(out, image)
        return out
    if backend not in BACKENDS:
        raise ValueError(f"unknown resize backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    cv2 = None if backend == "numpy" else opencv(load=backend == "opencv")
    if backend == "opencv" and cv2 is None:
        raise ValueError("the opencv resize backend needs OpenCV: pip install 'qiloop[camera]'")
    if cv2 is not None and image.shape[2] in (1, 3, 4):
        out[...] = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR).reshape(out.shape)
        return out
    key = (image.shape, (h, w))
    plan = _plans.by_size.get(key)
    if plan is None:
        plan = _Plan(image.shape, (h, w))
        cached = sum(p.nbytes for p in _plans.by_size.values())
        if len(_plans.by_size) >= _MAX_PLANS or cached + plan.nbytes > _MAX_CACHED_BYTES:
            _plans.by_size.clear()
        if plan.nbytes <= _MAX_CACHED_BYTES:
            _plans.by_size[key] = plan
    plan.run(image, out)
    return out
