"""The edge runtime reads every format the image store accepts as ultralytics reads it for training."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from qiloop.edge.runtime.preprocess import as_rgb_array

RGB = np.random.default_rng(0).integers(0, 255, (12, 20, 3), dtype=np.uint8)
GREY16 = np.array([[0, 255, 256, 4095, 32768, 65535] * 3] * 4, dtype=np.uint16)


def encode(image: Image.Image, fmt: str, **save) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "save"), [("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"})])
@pytest.mark.parametrize("as_pil", [False, True])
def test_lossless_formats_decode_to_the_same_pixels(fmt, save, as_pil):
    data = encode(Image.fromarray(RGB), fmt, **save)
    source = Image.open(io.BytesIO(data)) if as_pil else data
    assert np.array_equal(as_rgb_array(source), RGB)


def test_webp_decodes():
    assert np.array_equal(as_rgb_array(encode(Image.fromarray(RGB), "WEBP", lossless=True)), RGB)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
@pytest.mark.parametrize("as_pil", [False, True])
def test_16_bit_grey_keeps_its_high_byte_like_opencv(fmt, as_pil):
    data = encode(Image.fromarray(GREY16), fmt)
    source = Image.open(io.BytesIO(data)) if as_pil else data
    rgb = as_rgb_array(source)
    expected = (GREY16 >> 8).astype(np.uint8)  # cv2.imdecode(..., IMREAD_COLOR), what ultralytics trains on
    assert rgb.dtype == np.uint8 and rgb.shape == (*GREY16.shape, 3)
    assert np.array_equal(rgb[..., 0], expected) and np.array_equal(rgb[..., 2], expected)
