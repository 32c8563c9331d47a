"""The endpoint's own errors and the one place where qiloop errors become HTTP statuses.

Everything below the routes raises :mod:`qiloop.core.errors`; the app's
exception handlers call :func:`http_status` and :func:`error_body`, so a status
code is decided here and nowhere else.
"""

from __future__ import annotations

from qiloop.core.errors import (
    ConfigurationError,
    FormatError,
    ImageRejectedError,
    MissingDependencyError,
    NotFoundError,
    QiloopError,
    StoreError,
)


class ServiceUnavailableError(QiloopError):
    """The endpoint cannot serve now (no model loaded yet, or every worker is busy); retry later."""


class ImageTooLargeError(ImageRejectedError):
    """An upload over the byte or pixel limit, refused before it is decoded."""


# First match wins, so subclasses come before their parents.
_STATUS: tuple[tuple[type[QiloopError], int], ...] = (
    (ImageTooLargeError, 413),
    (ImageRejectedError, 422),
    (FormatError, 422),
    (ConfigurationError, 400),
    (NotFoundError, 404),
    (ServiceUnavailableError, 503),
    (StoreError, 503),
    (MissingDependencyError, 500),
)


def http_status(exc: QiloopError) -> int:
    """The HTTP status for a qiloop error: 4xx for the caller's input, 5xx for the server's state.

    ``InvalidRecordError`` maps to 500: on this path it can only come from a model
    whose output contradicts its package, which the caller cannot fix.

    Example:
        >>> http_status(ImageRejectedError("a.jpg", "not a readable image"))
        422
    """
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), 500)


def error_body(exc: QiloopError) -> dict[str, str | None]:
    """The JSON body of an error response: the error's kind, what is wrong and what to do."""
    return {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint}
