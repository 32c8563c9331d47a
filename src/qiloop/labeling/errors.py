"""Errors of the labelling service that ``qiloop.core.errors`` has no kind for.

The HTTP layer maps ``ConflictError`` to 409, ``PermissionDeniedError`` to 403
and ``ThrottledError`` to 429.
"""

from __future__ import annotations

from qiloop.core.errors import QiloopError


class ConflictError(QiloopError):
    """The request no longer fits the task's or item's state (lease expired, already submitted or decided)."""

    exit_code = 1


class PermissionDeniedError(QiloopError):
    """The user's role (or a disabled account) does not allow the action."""

    exit_code = 1


class ThrottledError(QiloopError):
    """Too many failed password checks for a username or from a client address (see ``labeling.throttle``).

    Args:
        retry_after_s: Whole seconds until an attempt is allowed again.
    """

    exit_code = 1

    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, -(-retry_after_s // 60))
        super().__init__(
            f"too many failed attempts; try again in {minutes} minute{'' if minutes == 1 else 's'}",
            hint="wait until then; an admin can clear an account's count with `qiloop labeling users unlock NAME`",
        )
        self.retry_after_s = retry_after_s
