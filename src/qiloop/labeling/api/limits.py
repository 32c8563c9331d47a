"""A ceiling on request bodies, enforced before a body is read.

A request that declares a ``Content-Length`` above the limit is answered 413 at
once, before any route, authentication or form parsing sees it. A body sent
without a length (chunked) is counted while it streams in, and the read that
crosses the limit raises :class:`RequestTooLargeError`. Whatever the route
makes of that (a form route lets it through to the error handler; FastAPI's JSON
body parsing turns any read error into 400 "error parsing the body"), the
middleware drops the app's answer and sends the same 413 itself. So an upload
never holds more than the limit, on disk (where the form parser spools files)
or in memory, and the status does not depend on how the body was sent.
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
        received, over, answered = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise too_large(self.max_bytes)
            return message

        async def guarded(message: Message) -> None:
            nonlocal answered
            if over:  # whatever the app answers to a body cut short (FastAPI: 400 "error parsing the body") is dropped
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
        if over and not answered:
            response = self.respond(Request(scope), too_large(self.max_bytes))
            await response(scope, receive, send)


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
