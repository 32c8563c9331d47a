"""Errors of the labelling service that ``qiloop.core.errors`` has no kind for.

The HTTP layer maps ``ConflictError`` to 409 and ``PermissionDeniedError`` to 403.
"""

from __future__ import annotations

from qiloop.core.errors import QiloopError


class ConflictError(QiloopError):
    """The request no longer fits the task's or item's state (lease expired, already submitted or decided)."""

    exit_code = 1


class PermissionDeniedError(QiloopError):
    """The user's role (or a disabled account) does not allow the action."""

    exit_code = 1
