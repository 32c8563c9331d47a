"""Credentials: passwords (argon2id), API tokens and browser sessions.

Passwords are hashed with argon2id (salted, memory-hard). Tokens and session
cookies are 256-bit random strings, so a plain sha256 of them is stored: it
cannot be reversed, and it lets a request find its row by an indexed lookup.
Every check treats a disabled user, a revoked or expired token and an ended
session alike: the credential does not authenticate, and callers learn nothing
about which part failed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qiloop.labeling.db import utcnow
from qiloop.labeling.models import ApiToken, BrowserSession, User

_hasher = PasswordHasher()
SESSION_LIFETIME = timedelta(hours=12)


@cache
def _dummy_hash() -> str:
    """A hash verified when the user does not exist, so that case takes as long as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salt and parameters included)."""
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    """What the database stores for an API token or session cookie."""
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The enabled user with this username and password, or None; rehashes outdated hashes."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def issue_api_token(session: Session, user: User, name: str, expires_at: datetime | None = None) -> str:
    """Create an API token for ``user``; the plain token is returned once and never stored."""
    token = "qlt_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=token_hash(token), expires_at=expires_at))
    session.flush()
    return token


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The enabled user an unrevoked, unexpired API token belongs to, or None."""
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    row.last_used_at = now
    return user


def revoke_api_token(session: Session, token: str, now: datetime | None = None) -> bool:
    """Revoke a token; True when it existed and was live."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now or utcnow()
    return True


@dataclass(frozen=True)
class NewSession:
    """A browser session just created: the cookie value and the CSRF token for its forms."""

    cookie: str
    csrf_token: str
    expires_at: datetime


def start_session(session: Session, user: User, lifetime: timedelta = SESSION_LIFETIME) -> NewSession:
    """A fresh browser session for ``user`` (call on every login, so a session id is never reused)."""
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = utcnow() + lifetime
    session.add(BrowserSession(user_id=user.id, token_hash=token_hash(cookie), csrf_token=csrf, expires_at=expires))
    session.flush()
    return NewSession(cookie, csrf, expires)


def resolve_session(session: Session, cookie: str, now: datetime | None = None) -> tuple[User, BrowserSession] | None:
    """The enabled user and session row of a live session cookie, or None."""
    now = now or utcnow()
    row = session.scalar(select(BrowserSession).where(BrowserSession.token_hash == token_hash(cookie)))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    return user, row


def end_session(session: Session, cookie: str) -> bool:
    """Log out: the cookie stops working at once. True when the session was live."""
    row = session.scalar(select(BrowserSession).where(BrowserSession.token_hash == token_hash(cookie)))
    if row is None or row.ended_at is not None:
        return False
    row.ended_at = utcnow()
    return True


def end_user_sessions(session: Session, user_id: int, now: datetime | None = None) -> int:
    """End every live browser session of a user (password changed, account disabled); returns how many."""
    now = now or utcnow()
    rows = session.scalars(
        select(BrowserSession).where(BrowserSession.user_id == user_id, BrowserSession.ended_at.is_(None))
    ).all()
    for row in rows:
        row.ended_at = now
    return len(rows)


def csrf_matches(row: BrowserSession, submitted: str) -> bool:
    """Whether a form's CSRF token is this session's (constant-time comparison)."""
    return secrets.compare_digest(row.csrf_token, submitted or "")
