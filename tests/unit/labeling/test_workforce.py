"""Accounts, passwords, API tokens and browser sessions on a real SQLite database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from labeling_helpers import PASSWORD
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.labeling import auth
from qiloop.labeling.db import Database, utcnow
from qiloop.labeling.errors import PermissionDeniedError
from qiloop.labeling.models import ApiToken, BrowserSession, Role, User
from qiloop.labeling.workforce import active_user, add_user, find_user, list_users, set_disabled


def test_add_and_list_users_with_roles(db):
    with db.session() as session:
        add_user(session, "ann", PASSWORD)
        add_user(session, "vera", PASSWORD, "verifier")
        add_user(session, "root", PASSWORD, Role.ADMIN)
    with db.session() as session:
        users = list_users(session)
        stored = session.scalar(select(User.password_hash).where(User.username == "ann"))
    assert [(u.username, u.role, u.disabled) for u in users] == [
        ("ann", "labeler", False),
        ("vera", "verifier", False),
        ("root", "admin", False),
    ]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("ann", PASSWORD, "labeler", "already exists"),
        ("<script>", PASSWORD, "labeler", "invalid username"),
        ("", PASSWORD, "labeler", "invalid username"),
        ("bob", "short", "labeler", "shorter than"),
        ("bob", PASSWORD, "boss", "unknown role"),
    ],
)
def test_bad_accounts_are_refused_with_a_hint(db, username, password, role, message):
    with db.session() as session:
        add_user(session, "ann", PASSWORD)
    with db.session() as session, pytest.raises(ConfigurationError, match=message) as info:
        add_user(session, username, password, role)
    assert info.value.hint


def test_authenticate_checks_password_and_disabled_flag(db):
    with db.session() as session:
        add_user(session, "ann", PASSWORD)
    with db.session() as session:
        assert auth.authenticate(session, "ann", PASSWORD).username == "ann"
        assert auth.authenticate(session, "ann", PASSWORD + "x") is None
        assert auth.authenticate(session, "nobody", PASSWORD) is None
        set_disabled(session, "ann")
    with db.session() as session:
        assert auth.authenticate(session, "ann", PASSWORD) is None
        with pytest.raises(PermissionDeniedError, match="disabled"):
            active_user(session, "ann")
        set_disabled(session, "ann", disabled=False)
        assert active_user(session, "ann").username == "ann"
        with pytest.raises(PermissionDeniedError, match="verifier"):
            active_user(session, "ann", Role.VERIFIER)
        with pytest.raises(NotFoundError):
            find_user(session, "nobody")


def test_api_tokens_are_stored_hashed_and_stop_on_revoke_expiry_or_disable(db):
    with db.session() as session:
        add_user(session, "ann", PASSWORD)
        add_user(session, "bot", PASSWORD)
    with db.session() as session:
        ann = find_user(session, "ann")
        token = auth.issue_api_token(session, ann, "script")
        short = auth.issue_api_token(session, ann, "short", expires_at=utcnow() + timedelta(seconds=1))
        bot_token = auth.issue_api_token(session, find_user(session, "bot"), "bot")
    with db.session() as session:
        hashes = set(session.scalars(select(ApiToken.token_hash)))
        assert token not in hashes and auth.token_hash(token) in hashes
        assert auth.user_for_token(session, token).username == "ann"
        assert auth.user_for_token(session, short).username == "ann"
        assert auth.user_for_token(session, "qlt_guessed") is None
        assert auth.revoke_api_token(session, token) is True
        assert auth.revoke_api_token(session, token) is False
        assert auth.user_for_token(session, token) is None
        set_disabled(session, "bot")
        assert auth.user_for_token(session, bot_token) is None
    with db.session() as session:  # a second later, by the clock the code accepts
        assert auth.user_for_token(session, short, now=utcnow() + timedelta(seconds=1.1)) is None


def test_browser_sessions_are_fresh_per_login_end_on_logout_and_expire(db):
    with db.session() as session:
        add_user(session, "ann", PASSWORD)
    with db.session() as session:
        ann = find_user(session, "ann")
        first = auth.start_session(session, ann)
        second = auth.start_session(session, ann)
        brief = auth.start_session(session, ann, lifetime=timedelta(seconds=1))
    assert first.cookie != second.cookie and first.csrf_token != second.csrf_token
    with db.session() as session:
        user, row = auth.resolve_session(session, first.cookie)
        assert user.username == "ann"
        assert auth.csrf_matches(row, first.csrf_token) and not auth.csrf_matches(row, second.csrf_token)
        assert not auth.csrf_matches(row, "")
        assert first.cookie not in set(session.scalars(select(BrowserSession.token_hash)))
        assert auth.end_session(session, first.cookie) is True
    with db.session() as session:
        assert auth.resolve_session(session, first.cookie) is None
        assert auth.end_session(session, first.cookie) is False
        assert auth.resolve_session(session, second.cookie) is not None
    with db.session() as session:  # a second later, by the clock the code accepts
        assert auth.resolve_session(session, brief.cookie, now=utcnow() + timedelta(seconds=1.1)) is None


def test_database_urls_are_checked(tmp_path):
    with pytest.raises(ConfigurationError, match="not a database URL"):
        Database.from_url("not a url")
    (tmp_path / "file").write_text("")
    from qiloop.core.errors import StoreError

    with pytest.raises(StoreError, match="labelling database") as info:
        Database.from_url(f"sqlite:///{tmp_path / 'file' / 'x.db'}")
    assert info.value.hint
