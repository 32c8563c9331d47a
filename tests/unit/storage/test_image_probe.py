"""Table tests for the pure gate every image passes: format, size, channels, frames, completeness."""

from __future__ import annotations

import io
import time
from datetime import datetime, timezone

import pytest
from PIL import Image, ImageFile

from qiloop.core.errors import ConfigurationError, ImageRejectedError
from qiloop.storage.headers import png_complete, sniff
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
        ("BMP", "RGB", {}, 3),
        ("BMP", "L", {}, 1),
        ("TIFF", "RGB", {}, 3),
        ("TIFF", "RGB", {"compression": "tiff_lzw"}, 3),
        ("TIFF", "RGB", {"compression": "jpeg"}, 3),
        ("TIFF", "L", {}, 1),
        ("TIFF", "I;16", {}, 1),  # a mono industrial camera's 16-bit frame
        ("TIFF", "RGBA", {"compression": "tiff_deflate"}, 4),
        ("TIFF", "CMYK", {}, 4),
        ("WEBP", "RGB", {}, 3),
        ("WEBP", "RGB", {"lossless": True}, 3),
        ("WEBP", "RGBA", {}, 4),
    ],
)
def test_accepted_images_are_described(images, fmt, mode, save, depth):
    data = images.encode(fmt, mode, size=(37, 21), **save)
    assert Image.open(io.BytesIO(data)).mode == mode  # the fixture really built that kind of file
    info = probe_image(data, name="x", max_pixels=LIMIT)
    assert (info.format, info.width, info.height, info.depth) == (fmt.lower(), 37, 21, depth)
    assert info.captured_at is None


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "WEBP"])
def test_format_comes_from_the_bytes_never_the_name(images, fmt):
    data = images.encode(fmt, "RGB", size=(16, 16))
    assert probe_image(data, name="frame.jpg_3", max_pixels=LIMIT).format == fmt.lower()
    assert probe_image(data, name="photo.png", max_pixels=LIMIT).format == fmt.lower()


@pytest.mark.parametrize(("fmt", "expected"), [("GIF", "GIF"), ("ICO", "ICO"), ("PDF", "PDF")])
def test_other_image_formats_are_rejected_by_name(images, fmt, expected):
    data = images.encode(fmt, "RGB", size=(16, 16))
    with pytest.raises(ImageRejectedError) as caught:
        probe_image(data, name="photo.jpg", max_pixels=LIMIT)
    assert caught.value.path == "photo.jpg"
    assert f"looks like {expected}" in caught.value.reason
    assert "JPEG, PNG, BMP, TIFF and WebP" in (caught.value.hint or "")


def _frames(fmt: str, count: int) -> bytes:
    pages = [Image.new("RGB", (24, 16), colour) for colour in ("red", "green", "blue")[:count]]
    out = io.BytesIO()
    pages[0].save(out, fmt, save_all=True, append_images=pages[1:], **({"duration": 100} if fmt != "TIFF" else {}))
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["TIFF", "WEBP", "PNG"])
def test_several_pages_or_frames_are_refused_with_the_reason(fmt):
    assert probe_image(_frames(fmt, 1), name="one", max_pixels=LIMIT).width == 24
    with pytest.raises(ImageRejectedError, match="3 frames or pages") as caught:
        probe_image(_frames(fmt, 3), name="stack.tif", max_pixels=LIMIT)
    assert "each page or frame as its own file" in (caught.value.hint or "")


@pytest.mark.parametrize("mode", ["I", "F"])
def test_32_bit_tiff_samples_are_refused_with_the_reason(images, mode):
    data = io.BytesIO()
    Image.new(mode, (16, 16)).save(data, "TIFF")
    with pytest.raises(ImageRejectedError, match=f"mode '{mode}'") as caught:
        probe_image(data.getvalue(), name="depth.tif", max_pixels=LIMIT)
    assert "8 bits per channel" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"scratch,left,top\n1,2,3\n", "looks like text"),
        (bytes(range(256)) * 4, "looks like unknown"),
        (b"\xff\xd8\xff", "truncated or corrupt JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "truncated or corrupt PNG"),
        (b"BM" + bytes(40), "truncated or corrupt BMP"),
        (b"II*\x00" + bytes(4), "truncated or corrupt TIFF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "truncated or corrupt WEBP"),
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
        ("BMP", lambda d: d[: len(d) // 2]),
        ("BMP", lambda d: d[:-1]),
        ("TIFF", lambda d: d[: len(d) // 2]),
        ("TIFF", lambda d: d[:-1]),
        ("WEBP", lambda d: d[: len(d) // 2]),
        ("WEBP", lambda d: d[:-1]),
    ],
)
def test_truncated_files_are_rejected(images, fmt, cut):
    data = images.encode(fmt, "RGB", size=(120, 80), seed=3)
    assert probe_image(data, name="whole", max_pixels=LIMIT).width == 120
    with pytest.raises(ImageRejectedError, match=r"truncated|corrupt") as caught:
        probe_image(cut(data), name="cut.bin", max_pixels=LIMIT)
    assert caught.value.path == "cut.bin"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_bomb_is_rejected_from_its_header_without_decoding(images, kind):
    data = images.png_bomb() if kind == "png" else images.jpeg_bomb()
    assert len(data) < 1000
    before = Image.MAX_IMAGE_PIXELS
    started = time.perf_counter()
    with pytest.raises(ImageRejectedError, match="above the limit of 64,000,000") as caught:
        probe_image(data, name=f"bomb.{kind}", max_pixels=LIMIT)
    assert time.perf_counter() - started < 0.5
    assert "decompression bomb" in caught.value.reason
    assert png_complete(data) == (kind == "png")
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
