"""Table tests for the pure gate every image passes: format, size, channels, completeness."""

from __future__ import annotations

import io
import time
from datetime import datetime, timezone

import pytest
from PIL import Image, ImageFile

from qiloop.core.errors import ConfigurationError, ImageRejectedError
from qiloop.storage.headers import read_header, sniff
from qiloop.storage.probe import parse_exif_datetime, probe_image

LIMIT = 64_000_000


@pytest.mark.parametrize(
    ("fmt", "mode", "save", "depth"),
    [
        ("JPEG", "RGB", {}, 3),
        ("JPEG", "RGB", {"progressive": True}, 3),
        ("JPEG", "L", {}, 1),
        ("JPEG", "CMYK", {}, 4),
        ("PNG", "RGB", {}, 3),
        ("PNG", "RGBA", {}, 4),
        ("PNG", "L", {}, 1),
        ("PNG", "LA", {}, 2),
        ("PNG", "I;16", {}, 1),
        ("PNG", "P", {}, 3),
        ("PNG", "P", {"transparency": 0}, 4),
    ],
)
def test_accepted_images_are_described(images, fmt, mode, save, depth):
    data = images.encode(fmt, mode, size=(37, 21), **save)
    assert Image.open(io.BytesIO(data)).mode == mode  # the fixture really built that kind of file
    info = probe_image(data, name="x", max_pixels=LIMIT)
    assert (info.format, info.width, info.height, info.depth) == (fmt.lower(), 37, 21, depth)
    assert info.captured_at is None


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("GIF", "GIF"), ("BMP", "BMP"), ("WEBP", "WebP"), ("TIFF", "TIFF"), ("ICO", "ICO")],
)
def test_other_image_formats_are_rejected_by_name(images, fmt, expected):
    data = images.encode(fmt, "RGB", size=(16, 16))
    with pytest.raises(ImageRejectedError) as caught:
        probe_image(data, name="photo.jpg", max_pixels=LIMIT)
    assert caught.value.path == "photo.jpg"
    assert f"looks like {expected}" in caught.value.reason
    assert "JPEG and PNG" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"scratch,left,top\n1,2,3\n", "looks like text"),
        (bytes(range(256)) * 4, "looks like unknown"),
        (b"\xff\xd8\xff", "truncated JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "no IHDR"),
    ],
)
def test_non_images_and_stubs_are_rejected(data, reason):
    with pytest.raises(ImageRejectedError, match=reason):
        probe_image(data, name="notes.jpg_3", max_pixels=LIMIT)


@pytest.mark.parametrize(
    ("fmt", "cut"),
    [
        ("JPEG", lambda d: d[: len(d) // 2]),
        ("JPEG", lambda d: d[:-2]),  # only the end-of-image marker is missing
        ("JPEG", lambda d: d[:200]),  # ends inside the headers
        ("PNG", lambda d: d[: len(d) // 2]),
        ("PNG", lambda d: d[:-12]),  # pixel data complete, IEND missing
        ("PNG", lambda d: d[:-3]),  # IEND cut
    ],
)
def test_truncated_files_are_rejected(images, fmt, cut):
    data = images.encode(fmt, "RGB", size=(120, 80), seed=3)
    assert probe_image(data, name="whole", max_pixels=LIMIT).width == 120
    with pytest.raises(ImageRejectedError, match="truncated") as caught:
        probe_image(cut(data), name="cut.bin", max_pixels=LIMIT)
    assert caught.value.path == "cut.bin"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_bomb_is_rejected_from_its_header_without_decoding(images, kind):
    data = images.png_bomb() if kind == "png" else images.jpeg_bomb()
    assert len(data) < 1000
    header = read_header(data)
    assert header.pixels >= 3_600_000_000
    before = Image.MAX_IMAGE_PIXELS
    started = time.perf_counter()
    with pytest.raises(ImageRejectedError, match="above the limit of 64,000,000") as caught:
        probe_image(data, name=f"bomb.{kind}", max_pixels=LIMIT)
    assert time.perf_counter() - started < 0.5
    assert "decompression bomb" in caught.value.reason
    assert "max_image_pixels" in (caught.value.hint or "")
    assert before == Image.MAX_IMAGE_PIXELS  # no process-wide Pillow setting touched


def test_pixel_limit_is_the_callers(images):
    data = images.png(size=(64, 48))
    assert probe_image(data, name="a", max_pixels=64 * 48).width == 64
    with pytest.raises(ImageRejectedError, match="3,072 pixels is above the limit of 3,071"):
        probe_image(data, name="a", max_pixels=64 * 48 - 1)


def test_truncated_images_are_refused_even_if_pillow_was_told_otherwise(images, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ConfigurationError, match="LOAD_TRUNCATED_IMAGES"):
        probe_image(images.jpeg(), name="a.jpg", max_pixels=LIMIT)


def test_exif_capture_time_is_read_from_jpeg_and_png(images):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:01:28 09:50:34"
    exif.get_ifd(0x8769)[0x9011] = "+01:00"
    expected = datetime(2021, 1, 28, 8, 50, 34, tzinfo=timezone.utc)
    assert probe_image(images.jpeg(exif=exif), name="a", max_pixels=LIMIT).captured_at == expected
    assert probe_image(images.png(exif=exif.tobytes()), name="a", max_pixels=LIMIT).captured_at == expected


@pytest.mark.parametrize(
    ("value", "offset", "expected"),
    [
        ("2020:04:22 11:07:29", None, datetime(2020, 4, 22, 11, 7, 29, tzinfo=timezone.utc)),
        ("2020:04:22 11:07:29", "-05:30", datetime(2020, 4, 22, 16, 37, 29, tzinfo=timezone.utc)),
        ("2020:04:22 11:07:29\x00", "garbage", datetime(2020, 4, 22, 11, 7, 29, tzinfo=timezone.utc)),
        ("0000:00:00 00:00:00", None, None),
        ("    :  :     :  :  ", None, None),
        (b"2020:04:22 11:07:29", None, None),
        (None, None, None),
    ],
)
def test_parse_exif_datetime(value, offset, expected):
    assert parse_exif_datetime(value, offset) == expected


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"GIF87a", "GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"\x00\x00\x00\x18ftypheic", "HEIC"),
        (b"hello\n", "text"),
        (b"\x00\x01\x02", "unknown"),
        (b"", "unknown"),
    ],
)
def test_sniff(head, kind):
    assert sniff(head) == kind
