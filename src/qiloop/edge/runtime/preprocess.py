"""Pre-processing: an image becomes the model's NCHW float tensor.

The geometry reproduces ultralytics' ``LetterBox`` (scale to fit, keep the aspect
ratio, pad centred with grey 114, the same rounding of the size and the same
split of odd padding) and the resampling is OpenCV's bilinear resize
(:mod:`qiloop.edge.runtime.resize`), so a model sees here the very pixels it
saw when it was validated.

A JPEG at least twice the input size in both directions is decoded at 1/2,
1/4 or 1/8 of its size straight from its DCT coefficients (:func:`read_rgb`
with ``fit``): a fraction of the decoding and resizing work, and an average
over each block, close to the area resize ultralytics' validation applies to
large images. :class:`Letterboxer` writes into buffers kept per thread, so
an image costs no fresh multi-megabyte arrays.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from qiloop.core.errors import ImageRejectedError
from qiloop.edge.runtime.resize import resize_bilinear


@dataclass(frozen=True)
class Letterbox:
    """Where the image lies inside the model input.

    Attributes:
        ratio: ``(x, y)`` scale from original pixels to input pixels.
        pad: ``(left, top)`` padding in input pixels.
        size: ``(height, width)`` of the scaled image before padding.
    """

    ratio: tuple[float, float]
    pad: tuple[int, int]
    size: tuple[int, int]


def as_rgb_array(image) -> np.ndarray:
    """An ``HxWx3`` uint8 RGB array from a PIL image, an array, encoded bytes or a path.

    Raises:
        ImageRejectedError: The bytes or file are not a readable image, or the
            array has the wrong shape or type.
    """
    return read_rgb(image)[0]


def read_rgb(image, fit: tuple[int, int] | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """An ``HxWx3`` uint8 RGB array and the image's original ``(height, width)``.

    Args:
        image: A PIL image, an array, encoded bytes or a path.
        fit: The ``(height, width)`` the pixels will be resized to. A JPEG at least
            twice as large in both directions is then decoded at 1/2, 1/4 or 1/8
            scale (never below ``fit``), so the array may be smaller than the
            original size returned beside it.

    Raises:
        ImageRejectedError: As :func:`as_rgb_array`.
    """
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise ImageRejectedError(
                "<array>",
                f"expected an HxWx3 uint8 RGB array, got {image.dtype} of shape {image.shape}",
                hint="convert the frame to 8-bit RGB first",
            )
        rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
        return rgb, rgb.shape[:2]
    if isinstance(image, Image.Image):
        return _rgb(image), (image.height, image.width)
    name = str(image) if isinstance(image, (str, Path)) else "<bytes>"
    try:
        source = io.BytesIO(image) if isinstance(image, (bytes, bytearray, memoryview)) else Path(image)
        with Image.open(source) as opened:
            size = (opened.height, opened.width)
            if fit is not None and opened.format == "JPEG" and opened.mode in ("RGB", "L", "CMYK"):
                target = letterbox_geometry(size, fit).size
                # Only when a reduction applies: a draft decode also switches libjpeg to its fast
                # DCT without fancy upsampling, which would change the pixels of a full-size decode.
                if size[0] >= 2 * target[0] and size[1] >= 2 * target[1]:
                    opened.draft("RGB" if opened.mode != "L" else "L", (target[1], target[0]))
            opened.load()
            return _rgb(opened), size
    except (UnidentifiedImageError, ImportError) as exc:
        # ImportError: a process that also loaded ultralytics has Image.open patched to
        # look for a HEIF plugin when a format is unknown.
        raise ImageRejectedError(name, "not a readable image: unknown format", hint="send a JPEG or PNG") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageRejectedError(name, f"not a readable image: {exc}", hint="send a complete JPEG or PNG") from exc


def _rgb(image: Image.Image) -> np.ndarray:
    """8-bit RGB; 16-bit grey keeps its high byte, as ultralytics (OpenCV) reads it for training.

    Pillow's own ``convert("RGB")`` clips 16-bit values at 255, which would make
    almost every pixel of a 16-bit camera frame white.
    """
    if image.mode.startswith("I;16"):
        grey = (np.asarray(image) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"))


def letterbox_geometry(shape: tuple[int, int], new_shape: tuple[int, int]) -> Letterbox:
    """Scale and padding that fit an image of ``shape`` (h, w) into ``new_shape`` (h, w).

    Example:
        >>> letterbox_geometry((300, 450), (320, 448))
        Letterbox(ratio=(0.9955555555555555, 0.9966666666666667), pad=(0, 10), size=(299, 448))
    """
    h0, w0 = shape
    h, w = new_shape
    r = min(h / h0, w / w0)
    new_w, new_h = max(round(w0 * r), 1), max(round(h0 * r), 1)
    dw, dh = (w - new_w) / 2, (h - new_h) / 2
    return Letterbox(ratio=(new_w / w0, new_h / h0), pad=(round(dw - 0.1), round(dh - 0.1)), size=(new_h, new_w))


def letterbox(image, new_shape: tuple[int, int], pad_value: int = 114) -> tuple[np.ndarray, tuple, tuple]:
    """The model input for ``image``: ``(1, 3, h, w)`` float32 RGB in [0, 1] (a new array).

    Args:
        image: Anything :func:`as_rgb_array` reads (decoded at full size).
        new_shape: The model's input ``(height, width)``.
        pad_value: Grey level of the padding.

    Returns:
        ``(tensor, ratio, pad)``: ``ratio`` is ``(x, y)`` input pixels per original
        pixel, ``pad`` is ``(left, top)`` in input pixels; together they map boxes back.
    """
    tensor, geometry = Letterboxer(new_shape, pad_value)(as_rgb_array(image))
    return tensor.copy(), geometry.ratio, geometry.pad


class Letterboxer:
    """Letterboxes images into one input size, reusing its buffers (one set per thread).

    The tensor it returns is overwritten by the calling thread's next call.

    Args:
        new_shape: The model's input ``(height, width)``.
        pad_value: Grey level of the padding.
    """

    def __init__(self, new_shape: tuple[int, int], pad_value: int = 114) -> None:
        self.new_shape = (int(new_shape[0]), int(new_shape[1]))
        self.pad_value = pad_value
        self._local = threading.local()

    def __call__(self, rgb: np.ndarray, original: tuple[int, int] | None = None) -> tuple[np.ndarray, Letterbox]:
        """The ``(1, 3, h, w)`` float32 tensor for ``rgb`` and its letterbox.

        Args:
            rgb: ``HxWx3`` uint8 pixels.
            original: The image's size when ``rgb`` was decoded smaller (see
                :func:`read_rgb`): the letterbox, and so the mapping of boxes back,
                is that of the original.
        """
        geometry = letterbox_geometry(original or rgb.shape[:2], self.new_shape)
        local = self._local
        if getattr(local, "canvas", None) is None:
            local.canvas = np.empty((*self.new_shape, 3), np.uint8)
            local.tensor = np.empty((1, 3, *self.new_shape), np.float32)
        canvas = local.canvas
        canvas.fill(self.pad_value)
        (left, top), (h, w) = geometry.pad, geometry.size
        resize_bilinear(rgb, geometry.size, out=canvas[top : top + h, left : left + w])
        # One pass: uint8 -> float32 and / 255 (a true division, as ultralytics does it).
        np.divide(canvas.transpose(2, 0, 1), np.float32(255), out=local.tensor[0])
        return local.tensor, geometry
