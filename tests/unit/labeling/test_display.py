"""Stored images as a browser shows them: TIFF becomes PNG, the rest goes out as stored; named by their file."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from qiloop.edge.inference.config import IMAGE_PATTERNS
from qiloop.labeling.api.display import for_browser


def encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


FORMATS = [("bmp", "BMP", "image/bmp"), ("webp", "WEBP", "image/webp"), ("png", "PNG", "image/png"),
           ("jpeg", "JPEG", "image/jpeg")]  # fmt: skip


@pytest.mark.parametrize(("fmt", "pil", "media"), FORMATS)
def test_formats_browsers_show_go_out_as_stored(fmt, pil, media):
    data = encoded(Image.new("RGB", (8, 6), (10, 20, 30)), pil)
    assert for_browser(data, fmt) == (data, media)


def test_tiff_goes_out_as_png_and_16_bit_grey_keeps_its_high_byte():
    rgb = Image.new("RGB", (8, 6), (200, 100, 50))
    body, media = for_browser(encoded(rgb, "TIFF"), "tiff")
    assert media == "image/png" and Image.open(io.BytesIO(body)).getpixel((0, 0)) == (200, 100, 50)
    grey16 = Image.fromarray(np.full((6, 8), 0x8A12, dtype=np.uint16))
    body, media = for_browser(encoded(grey16, "TIFF"), "tiff")
    assert media == "image/png" and Image.open(io.BytesIO(body)).getpixel((0, 0)) == (0x8A, 0x8A, 0x8A)


def test_the_device_watches_every_format_the_store_accepts():
    for ext in ("jpg", "png", "bmp", "tif", "tiff", "webp", "TIF", "WEBP"):
        assert f"*.{ext}" in IMAGE_PATTERNS


def test_an_image_is_named_by_the_file_it_was_stored_from(tmp_path):
    from labeling_helpers import png
    from qiloop.labeling.api.display import file_name
    from qiloop.storage import ImageStore

    store = ImageStore.from_url(str(tmp_path / "images"))
    named = store.ingest_bytes(png(1), name="/cameras/line-3/tag-0042.png")
    assert file_name(store, named.sha256) == "tag-0042.png"  # the file name, not the folder it came from
    assert named.sha256 not in file_name(store, named.sha256)
    assert file_name(store, "0" * 64) == "unnamed image"
