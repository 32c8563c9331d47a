"""Uploaded images: the byte and pixel limits, and decoding into the runtime's RGB array.

The limits are checked before any pixel is decoded: the body size as the
request arrives (:class:`BodyLimitMiddleware`), each file's size when it is
read, and the pixel count from the image header. Decoding itself is the edge
runtime's :func:`~qiloop.edge.runtime.as_rgb_array`, so the endpoint refuses
exactly the images a device refuses.
"""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from qiloop.core.errors import ImageRejectedError
from qiloop.edge.runtime import as_rgb_array
from qiloop.serving.errors import ImageTooLargeError, error_body


def check_size(data: bytes, name: str, max_bytes: int) -> None:
    """Refuse an empty upload, or one over ``max_bytes``.

    Raises:
        ImageRejectedError: The file is empty.
        ImageTooLargeError: The file is larger than ``max_bytes``.
    """
    if not data:
        raise ImageRejectedError(name, "the file is empty", hint="send the image's bytes as the form field 'file'")
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            name,
            f"the file is larger than the limit of {max_bytes} bytes",
            hint="send a smaller image, or start the server with a larger --max-image-mb",
        )


def header_pixels(data: bytes, name: str, max_pixels: int) -> int:
    """The pixel count an image's header declares (0 when unreadable), refused over ``max_pixels``.

    Only the header is parsed, so this is cheap enough for the event loop: a request
    over the limit is answered 413 before it is admitted or any pixel is decoded.

    Raises:
        ImageTooLargeError: More than ``max_pixels`` pixels (a decompression bomb, or a huge photo).
    """
    hint = ("downscale the image before sending it (the model sees it letterboxed to its input size), "
            "or start the server with a larger --max-image-mpx")  # fmt: skip
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except Image.DecompressionBombError as exc:  # so large that Pillow refuses to open it at all
        raise ImageTooLargeError(name, f"more pixels than this endpoint's limit of {max_pixels}: {exc}",
                                 hint=hint) from exc  # fmt: skip
    except Exception:
        return 0  # unreadable: the runtime's decoder says why when the image is decoded
    if width * height > max_pixels:
        raise ImageTooLargeError(
            name, f"{width}x{height} is {width * height} pixels, more than this endpoint's limit of {max_pixels}",
            hint=hint,
        )  # fmt: skip
    return width * height


def decode_image(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    """The ``HxWx3`` RGB array of an encoded image, after checking its pixel count in the header.

    Raises:
        ImageTooLargeError: More than ``max_pixels`` pixels (a decompression bomb, or a huge photo).
        ImageRejectedError: Not an image, an unknown format, or a truncated file.
    """
    header_pixels(data, name, max_pixels)
    try:
        return as_rgb_array(data)
    except ImageRejectedError as exc:
        raise ImageRejectedError(name, exc.reason, hint=exc.hint) from exc


class BodyLimitMiddleware:
    """ASGI middleware: answer 413 to a request body over ``max_bytes`` before it is parsed.

    A declared ``Content-Length`` over the limit is refused at once; a body sent
    without one is counted as it arrives and fails once it passes the limit.
    """

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise self._error()
            return message

        await self.app(scope, counted, send)

    def _error(self) -> ImageTooLargeError:
        return ImageTooLargeError(
            "<request>",
            f"the request body is larger than the limit of {self.max_bytes} bytes",
            hint="send fewer or smaller images per request",
        )

    async def _refuse(self, send) -> None:
        body = json.dumps(error_body(self._error())).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
