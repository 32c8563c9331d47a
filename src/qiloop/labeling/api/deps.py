"""Who is asking: API tokens for scripts, session cookies for browsers, roles, and CSRF.

A request authenticates with ``Authorization: Bearer <token>`` or with the
session cookie, never a mix: when the header is present the cookie is ignored.
A browser session must also prove every state-changing request came from our
own pages: the session's CSRF token in the ``X-CSRF-Token`` header (scripts on
our pages) or a ``csrf_token`` form field (plain forms). API tokens need no CSRF
token: a browser never attaches them to a request by itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from qiloop.labeling import auth
from qiloop.labeling.api.errors import CsrfError, NotAuthenticatedError
from qiloop.labeling.errors import PermissionDeniedError
from qiloop.labeling.models import Role

SESSION_COOKIE = "qiloop_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: the account, its role, and how it authenticated."""

    user_id: int
    username: str
    role: str
    via: str  # "token" or "session"
    csrf_token: str | None = None

    def holds(self, *roles: Role) -> bool:
        """Whether the caller may act as one of ``roles`` (admins may act as any)."""
        return self.role == Role.ADMIN.value or self.role in {r.value for r in roles}


def _resolve(db, bearer: str | None, cookie: str | None) -> Principal | None:
    with db.session() as session:
        if bearer is not None:
            user = auth.user_for_token(session, bearer)
            return None if user is None else Principal(user.id, user.username, user.role, "token")
        if cookie:
            found = auth.resolve_session(session, cookie)
            if found is not None:
                user, row = found
                return Principal(user.id, user.username, user.role, "session", row.csrf_token)
    return None


async def optional_principal(request: Request) -> Principal | None:
    """The caller, or None when the request carries no live credential (cached per request)."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    header = request.headers.get("authorization")
    bearer = None
    if header is not None:
        scheme, _, value = header.partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" else ""
    principal = None
    if bearer != "":
        cookie = None if bearer is not None else request.cookies.get(SESSION_COOKIE)
        principal = await run_in_threadpool(_resolve, request.app.state.db, bearer, cookie)
    request.state.principal = principal
    return principal


async def check_csrf(request: Request, principal: Principal) -> None:
    """Refuse a state-changing session request that does not carry the session's CSRF token.

    Raises:
        CsrfError: The token is missing or wrong.
    """
    if request.method in SAFE_METHODS or principal.via != "session":
        return
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        submitted = (await request.form()).get(CSRF_FIELD)
    expected = principal.csrf_token or ""
    if not expected or not secrets.compare_digest(expected.encode(), str(submitted or "").encode()):
        raise CsrfError(
            "this request lacks the session's CSRF token",
            hint="reload the page and try again; scripts should use an API token instead of a browser session",
        )


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that admits a caller holding one of ``roles`` (any role when none), CSRF-checked.

    Raises:
        NotAuthenticatedError: No live credential (401; pages redirect to the login).
        PermissionDeniedError: The caller's role does not allow the route (403).
        CsrfError: A session's state-changing request without its CSRF token (403).
    """

    async def dependency(request: Request) -> Principal:
        principal = await optional_principal(request)
        if principal is None:
            raise NotAuthenticatedError("you are not logged in", hint="log in, or send Authorization: Bearer <token>")
        if roles and not principal.holds(*roles):
            wanted = " or ".join(r.value for r in roles)
            raise PermissionDeniedError(
                f"{principal.username!r} is a {principal.role}; this needs the {wanted} role",
                hint="ask an admin for the role",
            )
        await check_csrf(request, principal)
        return principal

    return dependency


any_user = require()
verifier = require(Role.VERIFIER)
admin = require(Role.ADMIN)
