"""A ceiling on request bodies, enforced before a body is read.

A request that declares a ``Content-Length`` above the limit is answered 413 at
once, before any route, authentication or form parsing sees it. A body sent
without a length (chunked) is counted while it streams in, and the read that
crosses the limit raises :class:`RequestTooLargeError`, which the error handler
turns into the same 413. So an upload never holds more than the limit, on disk
(where the form parser spools files) or in memory.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qiloop.core.errors import QiloopError
from qiloop.labeling.api.errors import RequestTooLargeError

MIB = 1024 * 1024
_HINT = "send fewer or smaller files per request, or raise QILOOP_LABELING_MAX_UPLOAD_MIB on the server"


def too_large(max_bytes: int, size: int | None = None) -> RequestTooLargeError:
    """The error for a body of ``size`` bytes (unknown while it streams) above ``max_bytes``.

    Example:
        >>> too_large(64 * MIB, 100 * MIB).message
        'the request body is 100.0 MiB, above the limit of 64.0 MiB per request'
    """
    what = "the request body" if size is None else f"the request body is {size / MIB:.1f} MiB,"
    verb = " is" if size is None else ""
    return RequestTooLargeError(f"{what}{verb} above the limit of {max_bytes / MIB:.1f} MiB per request", hint=_HINT)


class BodyLimit:
    """ASGI middleware refusing request bodies above ``max_bytes`` (413).

    Args:
        app: The wrapped application.
        max_bytes: The largest body accepted.
        respond: ``(request, error) -> Response`` for a body refused by its declared length.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, respond: Callable[[Request, QiloopError], Response]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = self.respond(Request(scope), too_large(self.max_bytes, declared))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def install_body_limit(app: FastAPI, max_bytes: int, respond: Callable[[Request, QiloopError], Response]) -> None:
    """Refuse request bodies above ``max_bytes`` on every route of ``app``."""
    app.add_middleware(BodyLimit, max_bytes=max_bytes, respond=respond)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
