"""An account's API tokens: listing them and revoking them.

Tokens are stored as sha256 only (see ``labeling.auth``), so a listing shows each
token's id, name and times, never the token. A revoked token stays listed with
its revocation time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from qiloop.core.errors import NotFoundError
from qiloop.labeling.db import is_row_id, utcnow
from qiloop.labeling.models import ApiToken
from qiloop.labeling.workforce import find_user


@dataclass(frozen=True)
class TokenInfo:
    """What is known of one token."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utcnow())


def list_tokens(session: Session, username: str) -> list[TokenInfo]:
    """The account's tokens, oldest first.

    Raises:
        NotFoundError: No such account.
    """
    user = find_user(session, username)
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()
    return [TokenInfo(r.id, r.name, r.created_at, r.expires_at, r.last_used_at, r.revoked_at) for r in rows]


def revoke_tokens(session: Session, username: str, token_id: int | None = None, now: datetime | None = None) -> int:
    """Revoke one token of the account (``token_id``) or all its live ones; returns how many were revoked.

    Raises:
        NotFoundError: No such account, or it has no token with that id.
    """
    user = find_user(session, username)
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if token_id is not None:
        found = is_row_id(token_id) and session.scalar(
            select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.id == token_id)
        )
        if not found:
            raise NotFoundError(
                f"{username!r} has no token {token_id}", hint=f"`qiloop labeling users tokens {username}` lists them"
            )
        query = query.where(ApiToken.id == token_id)
    rows = session.scalars(query).all()
    for row in rows:
        row.revoked_at = now or utcnow()
    return len(rows)
