"""Images as a browser shows them: bytes as stored where browsers read the format, else as PNG; and their names.

Browsers show JPEG, PNG, BMP and WebP; they do not show TIFF, which industrial
cameras write. A TIFF is converted to PNG on the way out (16-bit grey keeps its
high byte, as training reads it); the stored image is never changed.
"""

from __future__ import annotations

import io

BROWSER_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "bmp": "image/bmp", "webp": "image/webp"}


def for_browser(data: bytes, fmt: str) -> tuple[bytes, str]:
    """The bytes and media type to send for an image stored in ``fmt``."""
    if fmt in BROWSER_TYPES:
        return data, BROWSER_TYPES[fmt]
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            image = image.point(lambda v: v / 256).convert("L")  # the high byte, as OpenCV reads it for training
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG")
    return out.getvalue(), "image/png"


def file_name(image_store, sha256: str) -> str:
    """The name an image is shown by: the file name it was stored from, never its sha256 or where it lies.

    The store's blobs are named by sha256, so the name comes from the record
    (``original_name``); an image stored without one shows as "unnamed image".
    A lookup in the store's in-memory index (the rows an image had stay visible
    while the index takes in new ones, so no lock is needed).
    """
    record = image_store.find(sha256)
    return (record.original_name if record is not None else "") or "unnamed image"
