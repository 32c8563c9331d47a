"""What Pillow does not tell from an image's bytes: what a refused file looks like, and a cut PNG.

Pillow identifies the accepted formats from their magic numbers and reads their
headers lazily (see :mod:`qiloop.storage.probe`); these pure helpers cover the
two things it does not do:

* :func:`sniff` names what a refused file looks like (GIF, PDF, text...), so the
  message says "the content looks like PDF" and not merely "unknown";
* :func:`png_complete` walks a PNG's chunk list to its ``IEND``: Pillow decodes
  every pixel of a PNG cut right after its image data without complaint.
"""

from __future__ import annotations

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, JPEG_SOI, "jpeg"),
    (0, PNG_SIGNATURE, "png"),
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


def sniff(data: bytes) -> str:
    """Name the format the bytes start with: ``"jpeg"``, ``"png"``, another name, or ``"unknown"``.

    Example:
        >>> sniff(b"GIF89a...")
        'GIF'
    """
    for offset, magic, name in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if _looks_like_text(data[:512]):
        return "text"
    return "unknown"


def png_complete(data: bytes) -> bool:
    """True when the PNG's chunk list runs whole up to its ``IEND`` chunk.

    Example:
        >>> png_complete(PNG_SIGNATURE + b"\\x00\\x00\\x00\\x0dIHDR")
        False
    """
    pos, end = len(PNG_SIGNATURE), len(data)
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > end:
            return False
        if kind == b"IEND":
            return True
        pos += 12 + length
    return False


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return False
    return all(b >= 0x20 or b in b"\t\r\n\f" for b in head)
