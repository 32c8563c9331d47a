"""Image headers read straight from the bytes: format, dimensions, channels.

Pure functions, no decoding and no Pillow. The image store calls them before it
decodes anything, so a file whose header declares a billion pixels is refused
after reading a few dozen bytes, and a name such as ``photo.jpg_3`` says nothing
about what the file is: only the magic numbers do.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"

# Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# PNG colour type -> channels once decoded (palette: 3, or 4 with a tRNS chunk).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}

# Formats we recognise only to name them in the rejection message.
_OTHER_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"%PDF", "PDF"),
    (0, b"PK\x03\x04", "ZIP archive"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypavif", "AVIF"),
)


class HeaderError(ValueError):
    """The bytes are not a complete JPEG or PNG header; ``str(exc)`` says why."""


@dataclass(frozen=True)
class Header:
    """What the header declares, before any pixel is decoded.

    Attributes:
        format: ``"jpeg"`` or ``"png"``.
        width: Declared width in pixels.
        height: Declared height in pixels.
        channels: Channels after decoding (1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha or CMYK).
        complete: False when the chunk structure shows the file was cut short (PNG only;
            a cut JPEG is caught when it is decoded).
    """

    format: str
    width: int
    height: int
    channels: int
    complete: bool = True

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff(data: bytes) -> str:
    """Name the format the bytes start with: ``"jpeg"``, ``"png"``, another name, or ``"unknown"``.

    Example:
        >>> sniff(b"GIF89a...")
        'GIF'
    """
    if data.startswith(JPEG_SOI):
        return "jpeg"
    if data.startswith(PNG_SIGNATURE):
        return "png"
    for offset, magic, name in _OTHER_SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if _looks_like_text(data[:512]):
        return "text"
    return "unknown"


def read_header(data: bytes) -> Header:
    """Parse the JPEG frame header or the PNG IHDR (and chunk list) of ``data``.

    Raises:
        HeaderError: The bytes are not JPEG/PNG, or end before the header is complete.
    """
    kind = sniff(data)
    if kind == "jpeg":
        return _jpeg_header(data)
    if kind == "png":
        return _png_header(data)
    raise HeaderError(f"not a JPEG or PNG image (the content looks like {kind})")


def _jpeg_header(data: bytes) -> Header:
    pos, end = 2, len(data)
    while pos < end:
        if data[pos] != 0xFF:
            raise HeaderError(f"corrupt JPEG: expected a marker at byte {pos}")
        while pos < end and data[pos] == 0xFF:  # fill bytes may pad a marker
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # standalone markers carry no length
            continue
        if marker in (0xD9, 0xDA):
            raise HeaderError("corrupt JPEG: image data starts before any frame header")
        if pos + 2 > end:
            break
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            raise HeaderError(f"corrupt JPEG: segment length {length} at byte {pos}")
        if marker in _SOF_MARKERS:
            if pos + 8 > end:
                break
            height, width, components = struct.unpack_from(">HHB", data, pos + 3)
            if width == 0 or height == 0:
                raise HeaderError(f"JPEG declares an empty frame ({width}x{height})")
            if components not in (1, 3, 4):
                raise HeaderError(f"JPEG with {components} colour components is not supported")
            return Header("jpeg", width, height, components)
        pos += length
    raise HeaderError("truncated JPEG: the file ends before its frame header")


def _png_header(data: bytes) -> Header:
    end = len(data)
    if end < 33 or data[12:16] != b"IHDR":
        raise HeaderError("truncated or corrupt PNG: no IHDR header")
    width, height, _bit_depth, color_type = struct.unpack_from(">IIBB", data, 16)
    if width == 0 or height == 0:
        raise HeaderError(f"PNG declares an empty image ({width}x{height})")
    if color_type not in _PNG_CHANNELS:
        raise HeaderError(f"corrupt PNG: unknown colour type {color_type}")
    channels = _PNG_CHANNELS[color_type]
    pos, complete = 8, False
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > end:
            break
        if kind == b"tRNS" and color_type == 3:
            channels = 4
        if kind == b"IEND":
            complete = True
            break
        pos += 12 + length
    return Header("png", width, height, channels, complete)


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return False
    return all(b >= 0x20 or b in b"\t\r\n\f" for b in head)
