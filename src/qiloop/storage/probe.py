"""Decide whether some bytes are an image the store accepts, and describe it.

``probe_image`` is the gate every image passes on its way into the store:

1. the format comes from the magic numbers (Pillow's own identification,
   restricted to :data:`ACCEPTED_FORMATS`), never from the file name;
2. the dimensions come from the header (Pillow's ``Image.open`` is lazy and
   reads only the header), and an image above ``max_pixels`` is refused as a
   decompression bomb before a single pixel is decoded;
3. the whole image is then decoded, so a truncated or corrupt file is refused
   here and not in the middle of a training run (a PNG must also run whole to
   its ``IEND`` chunk, which Pillow does not check).

Accepted: JPEG (an MPO's first picture too), PNG, BMP, TIFF and WebP, one
frame each, with 8-bit samples or 16-bit single-channel ones (mono industrial
cameras write 12/16-bit grey PNG and TIFF; ultralytics keeps their high byte).
Refused with a reason: multi-page TIFF, animated WebP/PNG (which page is the
image?), and 32-bit integer or float samples (convert them to 8 or 16 bits).

Pillow's process-wide switches are left alone: ``LOAD_TRUNCATED_IMAGES`` must
stay False (a cut file has to fail), and the pixel limit is our own check, not
``Image.MAX_IMAGE_PIXELS`` (Pillow's own, larger one still applies on top).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import Image, ImageFile, UnidentifiedImageError

from qiloop.core.errors import ConfigurationError, ImageRejectedError
from qiloop.storage.headers import png_complete, sniff

ACCEPTED_FORMATS = ("jpeg", "png", "bmp", "tiff", "webp")
_PIL_FORMATS = ["JPEG", "PNG", "BMP", "TIFF", "WEBP"]
_STORED_FORMAT = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "BMP": "bmp", "TIFF": "tiff", "WEBP": "webp"}
# Pillow mode -> channels once decoded; palettes count as colour (with transparency: colour+alpha).
_CHANNELS = {"1": 1, "L": 1, "I;16": 1, "I;16B": 1, "I;16L": 1, "LA": 2, "P": 3, "PA": 4, "RGB": 3, "YCbCr": 3}
_CHANNELS |= {"LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4, "CMYK": 4, "La": 2}
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_BYTES_PER_PIXEL = 8  # 16-bit RGBA, the widest sample layout a file under the pixel limit can hold uncompressed
_METADATA_BYTES = 16 * 1024 * 1024  # EXIF, ICC profiles, thumbnails

_HINT_FORMAT = "only JPEG, PNG, BMP, TIFF and WebP are accepted: convert the file, or leave it out of the batch"
_HINT_CORRUPT = "the file is cut short or damaged: copy it again from its source"
_HINT_BOMB = "if the image is genuine, raise max_image_pixels (QILOOP_MAX_IMAGE_PIXELS)"


@dataclass(frozen=True)
class ImageInfo:
    """What the store records about an accepted image's content.

    Attributes:
        format: One of :data:`ACCEPTED_FORMATS`.
        width: Width in pixels.
        height: Height in pixels.
        depth: Channels: 1 gray (8 or 16 bit), 2 gray+alpha, 3 colour (palette too),
            4 colour+alpha (palette with transparency too) or CMYK.
        captured_at: EXIF DateTimeOriginal when the image carries it (UTC unless the
            EXIF offset says otherwise), else None.
    """

    format: str
    width: int
    height: int
    depth: int
    captured_at: datetime | None = None


def max_image_bytes(max_pixels: int) -> int:
    """The largest file an image within ``max_pixels`` can be; larger files are refused unread."""
    return max_pixels * _BYTES_PER_PIXEL + _METADATA_BYTES


def probe_image(data: bytes, *, name: str, max_pixels: int) -> ImageInfo:
    """Check that ``data`` is a complete, accepted image within the pixel limit, and describe it.

    Args:
        data: The file's bytes.
        name: The file name or path, used only in error messages.
        max_pixels: Images with more pixels (width x height) are refused unread.

    Returns:
        The image's format, size, channels and capture time.

    Raises:
        ImageRejectedError: Empty, not an accepted format, truncated, corrupt,
            several frames, unsupported samples, or too many pixels.

    Example:
        >>> probe_image(png_bytes, name="a.png", max_pixels=64_000_000)  # doctest: +SKIP
        ImageInfo(format='png', width=64, height=48, depth=3, captured_at=None)
    """
    if not data:
        raise ImageRejectedError(name, "empty file (0 bytes)", hint=_HINT_FORMAT)
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone switched it on process-wide: cut files would pass
        raise ConfigurationError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True in this process, so truncated images would pass",
            hint="find the code that sets it and remove that; the image store needs it False",
        )
    image = _open(data, name, max_pixels)
    with image:
        fmt = _STORED_FORMAT[image.format or ""]
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejectedError(
                name,
                f"{width}x{height} = {width * height:,} pixels is above the limit of {max_pixels:,} "
                "(a decompression bomb?)",
                hint=_HINT_BOMB,
            )
        depth = _depth(image, name)
        if getattr(image, "n_frames", 1) > 1 and image.format != "MPO":
            raise ImageRejectedError(
                name,
                f"{fmt.upper()} with {image.n_frames} frames or pages; the store takes one picture per file",
                hint="save each page or frame as its own file",
            )
        if fmt == "png" and not png_complete(data):
            raise ImageRejectedError(name, "truncated PNG: the file ends early", hint=_HINT_CORRUPT)
        _decode(image, fmt, name)
        return ImageInfo(fmt, width, height, depth, _exif_captured_at(image))


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Pillow's lazy open: identifies the format from the bytes and reads only the header."""
    try:
        return Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except UnidentifiedImageError:
        kind = sniff(data)
        if kind.upper() not in _STORED_FORMAT:
            reason = f"not a JPEG, PNG, BMP, TIFF or WebP image (the content looks like {kind})"
            raise ImageRejectedError(name, reason, hint=_HINT_FORMAT) from None
        detail = "its header cannot be read"
    except Image.DecompressionBombError:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        reason = f"more than {limit:,} pixels (Pillow's own limit) is above the limit of {max_pixels:,}"
        raise ImageRejectedError(name, reason + " (a decompression bomb?)", hint=_HINT_BOMB) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # a header that ends early or lies
        detail = str(exc)
    reason = f"truncated or corrupt {sniff(data).upper()}: {detail}"
    raise ImageRejectedError(name, reason, hint=_HINT_CORRUPT)


def _depth(image: Image.Image, name: str) -> int:
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        return 4
    if mode not in _CHANNELS:
        raise ImageRejectedError(
            name,
            f"{image.format} with samples of mode {mode!r} (32-bit integer or float, or 16-bit colour) is not accepted",
            hint="convert the image to 8 bits per channel (or 16-bit grey)",
        )
    return _CHANNELS[mode]


def _decode(image: Image.Image, fmt: str, name: str) -> None:
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejectedError(name, f"refused by Pillow's own pixel limit: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejectedError(name, f"truncated or corrupt {fmt.upper()}: {exc}", hint=_HINT_CORRUPT) from None


def _exif_captured_at(image: Image.Image) -> datetime | None:
    """EXIF DateTimeOriginal as an aware datetime; None when absent or unparseable."""
    try:
        exif = image.getexif().get_ifd(_EXIF_IFD)
    except (OSError, SyntaxError, ValueError):  # a damaged EXIF block does not make a damaged image
        return None
    return parse_exif_datetime(exif.get(_DATETIME_ORIGINAL), exif.get(_OFFSET_TIME_ORIGINAL))


def parse_exif_datetime(value: object, offset: object = None) -> datetime | None:
    """Parse EXIF ``"YYYY:MM:DD HH:MM:SS"`` (+ optional ``"+HH:MM"`` offset) into UTC.

    Without an offset the camera's clock is taken as UTC. Malformed values give None:
    a wrong camera clock is common and is no reason to refuse an image.

    Example:
        >>> parse_exif_datetime("2020:04:22 11:07:29", "+02:00")
        datetime.datetime(2020, 4, 22, 9, 7, 29, tzinfo=datetime.timezone.utc)
    """
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.strptime(value.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    tz = timezone.utc
    if isinstance(offset, str) and len(offset.strip()) == 6 and offset.strip()[0] in "+-":
        text = offset.strip()
        try:
            delta = timedelta(hours=int(text[1:3]), minutes=int(text[4:6]))
        except ValueError:
            delta = timedelta(0)
        tz = timezone(delta if text[0] == "+" else -delta)
    return stamp.replace(tzinfo=tz).astimezone(timezone.utc)
