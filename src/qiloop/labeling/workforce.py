"""The workforce: user accounts with roles, and each worker's measured accuracy.

Accounts are never deleted (their annotations and decisions keep pointing at
them); an admin disables an account instead, which stops its password and
tokens at once and ends its browser sessions for good (enabling it again
brings the tokens back, not the sessions). Role and password changes live in
``labeling.accounts``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.labeling.auth import end_user_sessions, hash_password
from qiloop.labeling.errors import ConflictError, PermissionDeniedError
from qiloop.labeling.gold import ReliabilityPrior, WorkerAccuracy, worker_accuracy
from qiloop.labeling.models import Annotation, Role, User

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class UserInfo:
    """What may be shown about an account (never its password hash)."""

    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserInfo:
        return cls(user.id, user.username, user.role, user.disabled, user.created_at)


def add_user(session: Session, username: str, password: str, role: Role | str = Role.LABELER) -> UserInfo:
    """Create an account.

    Raises:
        ConfigurationError: The username is taken or malformed, the password too short, the role unknown.
    """
    if not USERNAME.match(username):
        raise ConfigurationError(
            f"invalid username {username!r}",
            hint="use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
        )
    check_password(password)
    role = parse_role(role)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConfigurationError(f"the user {username!r} already exists", hint="choose another username")
    user = User(username=username, password_hash=hash_password(password), role=role.value, disabled=False)
    session.add(user)
    session.flush()
    return UserInfo.of(user)


def check_password(password: str) -> None:
    """Refuse a password too short to keep.

    Raises:
        ConfigurationError: Fewer than :data:`MIN_PASSWORD` characters.
    """
    if len(password) < MIN_PASSWORD:
        raise ConfigurationError(
            f"the password is shorter than {MIN_PASSWORD} characters", hint="choose a longer password"
        )


def list_users(session: Session) -> list[UserInfo]:
    """Every account, in creation order."""
    return [UserInfo.of(u) for u in session.scalars(select(User).order_by(User.id))]


def find_user(session: Session, username: str) -> User:
    """The account named ``username`` (enabled or not).

    Raises:
        NotFoundError: No such account.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user named {username!r}", hint="`qiloop labeling users ls` lists the accounts")
    return user


def active_user(session: Session, username: str, *roles: Role) -> User:
    """The enabled account ``username``, required to hold one of ``roles`` (any role when none are given).

    Raises:
        NotFoundError: No such account.
        PermissionDeniedError: The account is disabled or lacks the role.
    """
    user = find_user(session, username)
    if user.disabled:
        raise PermissionDeniedError(f"the user {username!r} is disabled", hint="an admin can enable the account")
    if roles and user.role not in {r.value for r in roles} | {Role.ADMIN.value}:
        wanted = " or ".join(r.value for r in roles)
        raise PermissionDeniedError(
            f"the user {username!r} is a {user.role}, this needs a {wanted}", hint="ask an admin for the role"
        )
    return user


def set_disabled(session: Session, username: str, disabled: bool = True) -> UserInfo:
    """Disable (or enable again) an account; disabling ends its browser sessions.

    Raises:
        NotFoundError: No such account.
        ConflictError: The account is the last enabled admin.
    """
    user = find_user(session, username)
    if disabled:
        keep_an_admin(session, user, "be disabled")
        end_user_sessions(session, user.id)
    user.disabled = disabled
    return UserInfo.of(user)


def keep_an_admin(session: Session, user: User, change: str) -> None:
    """Refuse a change that would leave the service without an enabled admin.

    Raises:
        ConflictError: ``user`` is the last enabled admin.
    """
    if user.role != Role.ADMIN.value or user.disabled:
        return
    others = session.scalar(
        select(func.count()).where(User.role == Role.ADMIN.value, User.disabled.is_(False), User.id != user.id)
    )
    if not others:
        raise ConflictError(
            f"{user.username!r} is the last enabled admin and cannot {change}",
            hint="make another account an admin first",
        )


def accuracy(
    session: Session,
    *,
    workers: Iterable[int] | None = None,
    prior: ReliabilityPrior = ReliabilityPrior(),
    threshold: float = 0.6,
    min_items: int = 3,
) -> dict[str, WorkerAccuracy]:
    """Each worker's gold record (by username): gold images, mean F1, reliability, flag.

    Args:
        workers: User ids to report (default every account); ones without gold scores get the prior.
    """
    names = dict(session.execute(select(User.id, User.username)).all())
    wanted = set(names) if workers is None else set(workers)
    rows = session.execute(
        select(Annotation.worker_id, Annotation.gold_f1)
        .where(Annotation.gold_f1.is_not(None), Annotation.worker_id.in_(wanted))
        .order_by(Annotation.submitted_at, Annotation.id)
    ).all()
    scores = [(names[w], f1) for w, f1 in rows]
    return worker_accuracy(
        scores, workers=[names[w] for w in wanted], prior=prior, threshold=threshold, min_items=min_items
    )


def parse_role(role: Role | str) -> Role:
    """The role named ``role`` (any case).

    Raises:
        ConfigurationError: No such role.
    """
    try:
        return Role(role.value if isinstance(role, Role) else str(role).lower())
    except ValueError as exc:
        raise ConfigurationError(
            f"unknown role {role!r}", hint=f"choose one of {', '.join(r.value for r in Role)}"
        ) from exc
