"""Role changes, password resets and changes, and what they end, on a real SQLite database."""

from __future__ import annotations

import pytest

from labeling_helpers import PASSWORD, add_users
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.labeling import accounts, auth
from qiloop.labeling.errors import ConflictError, PermissionDeniedError
from qiloop.labeling.workforce import find_user, set_disabled

NEW = "a much better passphrase"


def sessions_and_token(db, username: str, count: int = 2) -> tuple[list[str], str]:
    with db.session() as session:
        user = find_user(session, username)
        cookies = [auth.start_session(session, user).cookie for _ in range(count)]
        return cookies, auth.issue_api_token(session, user, "tests")


def live(db, cookie: str) -> bool:
    with db.session() as session:
        return auth.resolve_session(session, cookie) is not None


def token_works(db, token: str) -> bool:
    with db.session() as session:
        return auth.user_for_token(session, token) is not None


def test_set_role_changes_the_role_and_keeps_one_enabled_admin(db):
    add_users(db, "ann")
    add_users(db, "root", role="admin")
    with db.session() as session:
        assert accounts.set_role(session, "ann", "VERIFIER").role == "verifier"
    with db.session() as session, pytest.raises(ConflictError, match="last enabled admin"):
        accounts.set_role(session, "root", "labeler")
    with db.session() as session, pytest.raises(ConfigurationError, match="unknown role 'boss'"):
        accounts.set_role(session, "ann", "boss")
    with db.session() as session, pytest.raises(NotFoundError):
        accounts.set_role(session, "nobody", "admin")
    with db.session() as session:
        accounts.set_role(session, "ann", "admin")
    with db.session() as session:  # with a second admin the first may step down
        assert accounts.set_role(session, "root", "labeler").role == "labeler"
        assert find_user(session, "ann").role == "admin"


def test_an_admin_reset_sets_the_password_and_ends_the_sessions_not_the_tokens(db):
    add_users(db, "ann")
    cookies, token = sessions_and_token(db, "ann")
    with db.session() as session, pytest.raises(ConfigurationError, match="shorter than 8"):
        accounts.set_password(session, "ann", "short")
    assert all(live(db, c) for c in cookies)  # a refused reset changes nothing
    with db.session() as session:
        assert accounts.set_password(session, "ann", NEW) == 2
    assert not any(live(db, c) for c in cookies)
    assert token_works(db, token)
    with db.session() as session:
        assert auth.authenticate(session, "ann", PASSWORD) is None
        assert auth.authenticate(session, "ann", NEW) is not None


def test_changing_ones_own_password_needs_the_current_one(db):
    add_users(db, "ann")
    cookies, _ = sessions_and_token(db, "ann")
    with db.session() as session, pytest.raises(PermissionDeniedError, match="current password is wrong"):
        accounts.change_own_password(session, "ann", "not my password", NEW)
    with db.session() as session, pytest.raises(ConfigurationError, match="shorter"):
        accounts.change_own_password(session, "ann", PASSWORD, "short")
    assert all(live(db, c) for c in cookies)
    with db.session() as session:
        assert accounts.change_own_password(session, "ann", PASSWORD, NEW).username == "ann"
    assert not any(live(db, c) for c in cookies)
    with db.session() as session:
        assert auth.authenticate(session, "ann", NEW) is not None


def test_disabling_stops_tokens_and_ends_sessions_for_good(db):
    add_users(db, "ann")
    cookies, token = sessions_and_token(db, "ann")
    with db.session() as session:
        set_disabled(session, "ann", True)
    assert not token_works(db, token) and not any(live(db, c) for c in cookies)
    with db.session() as session:
        set_disabled(session, "ann", False)
    assert token_works(db, token)  # tokens are the account's until revoked
    assert not any(live(db, c) for c in cookies)  # sessions do not come back with the account


def test_the_last_enabled_admin_cannot_be_disabled(db):
    add_users(db, "root", role="admin")
    with db.session() as session, pytest.raises(ConflictError, match="last enabled admin and cannot be disabled"):
        set_disabled(session, "root", True)
    with db.session() as session:
        assert find_user(session, "root").disabled is False
    add_users(db, "deputy", role="admin")
    with db.session() as session:  # with another enabled admin it may be disabled, and enabled again
        assert set_disabled(session, "root", True).disabled is True
    with db.session() as session, pytest.raises(ConflictError):
        set_disabled(session, "deputy", True)  # now deputy is the last one
    with db.session() as session:
        assert set_disabled(session, "root", False).disabled is False
