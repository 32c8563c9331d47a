"""Decide whether some bytes are an image the store accepts, and describe it.

``probe_image`` is the gate every image passes on its way into the store:

1. the format comes from the magic numbers, never from the file name;
2. the dimensions come from the header, and an image above ``max_pixels`` is
   refused as a decompression bomb before a single pixel is decoded;
3. the whole image is then decoded, so a truncated or corrupt file is refused
   here and not in the middle of a training run.

Pillow's process-wide switches are left alone: ``LOAD_TRUNCATED_IMAGES`` must
stay False (a cut file has to fail), and the pixel limit is our own check, not
``Image.MAX_IMAGE_PIXELS``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import Image, ImageFile

from qiloop.core.errors import ConfigurationError, ImageRejectedError
from qiloop.storage.headers import HeaderError, read_header

ACCEPTED_FORMATS = ("jpeg", "png")
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG"}
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011

_HINT_FORMAT = "only JPEG and PNG are accepted: convert the file, or leave it out of the batch"
_HINT_CORRUPT = "the file is cut short or damaged: copy it again from its source"


@dataclass(frozen=True)
class ImageInfo:
    """What the store records about an accepted image's content.

    Attributes:
        format: ``"jpeg"`` or ``"png"``.
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


def probe_image(data: bytes, *, name: str, max_pixels: int) -> ImageInfo:
    """Check that ``data`` is a complete JPEG or PNG within the pixel limit, and describe it.

    Args:
        data: The file's bytes.
        name: The file name or path, used only in error messages.
        max_pixels: Images with more pixels (width x height) are refused unread.

    Returns:
        The image's format, size, channels and capture time.

    Raises:
        ImageRejectedError: Empty, not JPEG/PNG, truncated, corrupt, or too many pixels.

    Example:
        >>> probe_image(png_bytes, name="a.png", max_pixels=64_000_000)  # doctest: +SKIP
        ImageInfo(format='png', width=64, height=48, depth=3, captured_at=None)
    """
    if not data:
        raise ImageRejectedError(name, "empty file (0 bytes)", hint=_HINT_FORMAT)
    try:
        header = read_header(data)
    except HeaderError as exc:
        hint = _HINT_FORMAT if "not a JPEG or PNG" in str(exc) else _HINT_CORRUPT
        raise ImageRejectedError(name, str(exc), hint=hint) from None
    if header.pixels > max_pixels:
        raise ImageRejectedError(
            name,
            f"{header.width}x{header.height} = {header.pixels:,} pixels is above the limit of "
            f"{max_pixels:,} (a decompression bomb?)",
            hint="if the image is genuine, raise max_image_pixels (QILOOP_MAX_IMAGE_PIXELS)",
        )
    if not header.complete:
        raise ImageRejectedError(name, f"truncated {header.format.upper()}: the file ends early", hint=_HINT_CORRUPT)
    image = _decode(data, header.format, name)
    if image.size != (header.width, header.height):
        raise ImageRejectedError(
            name, f"header says {header.width}x{header.height} but decodes as {image.width}x{image.height}"
        )
    return ImageInfo(header.format, header.width, header.height, header.channels, _exif_captured_at(image))


def _decode(data: bytes, fmt: str, name: str) -> Image.Image:
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone switched it on process-wide: cut files would pass
        raise ConfigurationError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True in this process, so truncated images would pass",
            hint="find the code that sets it and remove that; the image store needs it False",
        )
    try:
        image = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[fmt]])
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejectedError(name, f"refused by Pillow's own pixel limit: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejectedError(name, f"truncated or corrupt {fmt.upper()}: {exc}", hint=_HINT_CORRUPT) from None
    return image


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
