"""Image bytes as a browser shows them: as stored where browsers read the format, else as PNG.

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
