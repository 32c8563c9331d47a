"""One exception hierarchy for qiloop.

Every error says what is wrong *and* what to do about it (``hint``). Boundaries
translate them: the CLI into exit codes (``exit_code``), HTTP layers into
status codes. Nothing below the boundary catches and hides them.
"""

from __future__ import annotations


class QiloopError(Exception):
    """Base of every error qiloop raises on purpose.

    Args:
        message: What went wrong, in terms of the user's input.
        hint: What the user can do to fix it.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigurationError(QiloopError):
    """Settings or arguments that cannot work together."""

    exit_code = 2


class MissingDependencyError(QiloopError):
    """An optional framework is needed but its install extra is missing."""

    exit_code = 3

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the package {package!r}, which is not installed",
            hint=f"install it with: pip install 'qiloop[{extra}]'",
        )
        self.package = package
        self.extra = extra


class InvalidRecordError(QiloopError):
    """A record (box, image, label) violates its invariants."""

    exit_code = 4


class FormatError(QiloopError):
    """A file in a label or image format could not be parsed.

    Args:
        source: The file (or stream name) that failed.
        line: 1-based line or row number where known.
    """

    exit_code = 4

    def __init__(
        self, message: str, *, source: str | None = None, line: int | None = None, hint: str | None = None
    ) -> None:
        where = source or ""
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.source = source
        self.line = line


class ImageRejectedError(QiloopError):
    """An image was refused by the image store (format, truncation, size)."""

    exit_code = 4

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint=hint)
        self.path = path
        self.reason = reason


class NotFoundError(QiloopError):
    """A referenced image, record, version or file does not exist."""

    exit_code = 5


class StoreError(QiloopError):
    """A storage backend failed in a way the caller may retry or repair."""

    exit_code = 6


class ParityError(QiloopError):
    """An exported model does not reproduce the trained model's detections."""

    exit_code = 1


def require(package: str, extra: str):
    """Import an optional dependency or raise :class:`MissingDependencyError`.

    Example:
        >>> np = require("numpy", "edge")
    """
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(package.split(".")[0], extra) from exc
