"""Where labelling errors become HTTP: one status table, JSON for the API, a page for browsers.

Every route raises :mod:`qiloop.core.errors` or :mod:`qiloop.labeling.errors`;
the status is decided here and nowhere else. A task that is not the caller's is
a :class:`NotFoundError` (404), the same as a task that does not exist, so
nobody learns which ids other workers hold.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response

from qiloop.core.errors import (
    ConfigurationError,
    FormatError,
    ImageRejectedError,
    InvalidRecordError,
    NotFoundError,
    QiloopError,
    StoreError,
)
from qiloop.labeling.errors import ConflictError, PermissionDeniedError, ThrottledError

log = logging.getLogger("qiloop.labeling.api")


class NotAuthenticatedError(QiloopError):
    """The request carries no live session cookie or API token."""


class CsrfError(PermissionDeniedError):
    """A state-changing request from a browser session without its CSRF token."""


class RequestTooLargeError(QiloopError):
    """A request body above the service's upload limit (``QILOOP_LABELING_MAX_UPLOAD_MIB``)."""


# First match wins, so subclasses come before their parents.
_STATUS: tuple[tuple[type[QiloopError], int], ...] = (
    (NotAuthenticatedError, 401),
    (RequestTooLargeError, 413),
    (ThrottledError, 429),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidRecordError, 422),
    (ImageRejectedError, 422),
    (FormatError, 422),
    (ConfigurationError, 400),
    (StoreError, 503),
)


def http_status(exc: QiloopError) -> int:
    """The HTTP status of a qiloop error (500 for kinds the caller cannot fix).

    Example:
        >>> http_status(ConflictError("task 3 was already submitted"))
        409
    """
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), 500)


def error_body(exc: QiloopError) -> dict[str, str | None]:
    """The JSON body of an error: its kind, what is wrong, what to do."""
    return {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint}


def is_api(request: Request) -> bool:
    """API routes answer JSON; every other route answers pages."""
    return request.url.path.startswith("/api/")


def error_response(request: Request, exc: QiloopError, render_error) -> Response:
    """The response to a qiloop error: JSON for the API, the login for a page that needs one, else the error page."""
    status = http_status(exc)
    if status >= 500:
        log.error("request %s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    if is_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(exc), status_code=status, headers=headers)
    if status == 401 and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return render_error(request, status, type(exc).__name__, exc.message, exc.hint)


def install_error_handlers(app: FastAPI, render_error) -> None:
    """Map qiloop errors and malformed requests to responses.

    Args:
        render_error: ``(request, status, title, message, hint) -> Response`` for page routes.
    """

    @app.exception_handler(QiloopError)
    async def _qiloop_error(request: Request, exc: QiloopError) -> Response:
        return error_response(request, exc, render_error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
        )
        message = problems or "the request is malformed"
        hint = "see the API's /docs for the expected body"
        if is_api(request):
            return JSONResponse({"error": "InvalidRequest", "message": message, "hint": hint}, status_code=422)
        return render_error(request, 422, "InvalidRequest", message, hint)
