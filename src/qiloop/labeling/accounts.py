"""Changing an account: its role (admins), its password (admins reset it, users change their own).

A new password ends every browser session of the account, so a session opened
by someone who knew the old password does not outlive it; the browser that
changed its own password gets a fresh session from the caller. API tokens are
credentials of their own and stay (revoke them, or disable the account).
The last enabled admin can be neither demoted nor disabled, so the service always keeps one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from qiloop.labeling.auth import authenticate, end_user_sessions, hash_password
from qiloop.labeling.errors import PermissionDeniedError
from qiloop.labeling.models import Role, User
from qiloop.labeling.workforce import UserInfo, check_password, find_user, keep_an_admin, parse_role


def set_role(session: Session, username: str, role: Role | str) -> UserInfo:
    """Give ``username`` the role ``role`` (labeler, verifier, admin).

    Raises:
        NotFoundError: No such account.
        ConfigurationError: No such role.
        ConflictError: The account is the last enabled admin and would lose the role.
    """
    wanted = parse_role(role)
    user = find_user(session, username)
    if wanted is not Role.ADMIN:
        keep_an_admin(session, user, "lose the role")
    user.role = wanted.value
    session.flush()
    return UserInfo.of(user)


def set_password(session: Session, username: str, password: str) -> int:
    """Reset ``username``'s password (an admin's act); returns how many browser sessions it ended.

    Raises:
        NotFoundError: No such account.
        ConfigurationError: The password is too short.
    """
    check_password(password)
    user = find_user(session, username)
    user.password_hash = hash_password(password)
    return end_user_sessions(session, user.id)


def change_own_password(session: Session, username: str, current: str, new: str) -> User:
    """A user's own password change: ``current`` must be right; every session of theirs ends.

    Returns:
        The account, for the caller to open a fresh session for this browser.

    Raises:
        PermissionDeniedError: The current password is wrong (or the account is disabled).
        ConfigurationError: The new password is too short.
    """
    user = authenticate(session, username, current)
    if user is None:
        raise PermissionDeniedError("the current password is wrong", hint="type the password you logged in with")
    check_password(new)
    user.password_hash = hash_password(new)
    end_user_sessions(session, user.id)
    session.flush()
    return user
