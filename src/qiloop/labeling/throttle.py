"""Throttling password guessing: failed checks counted per username and per client address.

Every password check (the login form, the change-password page) is admitted
first. With ``max_failures`` failures for the username, or
``max_client_failures`` from the client address, within the last ``window``,
the attempt is refused before any password is checked, and the refusal says
when the oldest of those failures leaves the window. An admitted attempt is
written down as a failure at once, before its password is checked, and
:func:`forget` removes the username's rows when the password turns out right:
so attempts sent in parallel cannot slip past the count while their checks run.

The rows live in the service database, so every server process sees the same
count; admissions queue on SQLite's write lock or a PostgreSQL advisory lock.
Usernames are counted as typed, so one that does not exist is throttled like
one that does, and a refusal tells nothing about either. Rows older than the
window are deleted whenever an attempt is admitted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from qiloop.core.errors import ConfigurationError
from qiloop.labeling.db import serialise, utcnow
from qiloop.labeling.errors import ThrottledError
from qiloop.labeling.models import LoginFailure

_CLIENT_CHARS = 64  # the column's width; an address never needs more


@dataclass(frozen=True)
class Policy:
    """How many failed password checks are allowed within ``window``, per username and per client address.

    Example:
        >>> Policy(max_failures=5, window=timedelta(minutes=15)).max_client_failures
        20
    """

    max_failures: int = 5
    max_client_failures: int = 20
    window: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.max_client_failures < 1 or self.window <= timedelta(0):
            raise ConfigurationError(
                f"a login throttle needs positive limits and window, not {self}",
                hint="set QILOOP_LABELING_LOGIN_MAX_FAILURES, ..._MAX_CLIENT_FAILURES and ..._WINDOW_MINUTES above 0",
            )


def wait(
    policy: Policy, user_failures: Iterable[datetime], client_failures: Iterable[datetime], now: datetime
) -> float:
    """Seconds until another attempt is allowed, given the times of earlier failures (0: allowed now).

    A failure counts while it is less than ``window`` old: one exactly ``window``
    old no longer does.

    Example:
        >>> t = datetime(2024, 7, 1, 12, 0)
        >>> wait(Policy(max_failures=2), [t, t + timedelta(minutes=1)], [], t + timedelta(minutes=5))
        600.0
    """
    return max(
        _wait(user_failures, policy.max_failures, policy.window, now),
        _wait(client_failures, policy.max_client_failures, policy.window, now),
    )


def _wait(failures: Iterable[datetime], limit: int, window: timedelta, now: datetime) -> float:
    live = sorted(t for t in failures if t > now - window)
    if len(live) < limit:
        return 0.0
    # Allowed again once all but limit - 1 of them have left the window.
    return (live[len(live) - limit] + window - now).total_seconds()


def admit(session: Session, policy: Policy, username: str, client: str, now: datetime | None = None) -> None:
    """Let a password check for ``username`` from ``client`` go ahead, counting it as failed until :func:`forget`.

    Call it in a transaction of its own, committed before the password is checked.

    Raises:
        ThrottledError: Too many recent failures for the username or from the client; nothing is recorded.
    """
    now = now or utcnow()
    client = client[:_CLIENT_CHARS]
    serialise(session, "qiloop.labeling.throttle")
    since = now - policy.window
    left = wait(
        policy,
        _recent(session, LoginFailure.username == username, since, policy.max_failures),
        _recent(session, LoginFailure.client == client, since, policy.max_client_failures),
        now,
    )
    if left > 0:
        raise ThrottledError(math.ceil(left))
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= since))
    session.add(LoginFailure(username=username, client=client, failed_at=now))
    session.flush()


def forget(session: Session, username: str) -> int:
    """Clear ``username``'s failures (a right password, or an admin's unlock); returns how many rows went."""
    return session.execute(delete(LoginFailure).where(LoginFailure.username == username)).rowcount


def _recent(session: Session, where, since: datetime, limit: int) -> list[datetime]:
    """The newest ``limit`` failure times matching ``where`` inside the window: all :func:`wait` needs."""
    query = select(LoginFailure.failed_at).where(where, LoginFailure.failed_at > since)
    return list(session.scalars(query.order_by(LoginFailure.failed_at.desc()).limit(limit)))
