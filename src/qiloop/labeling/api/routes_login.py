"""Logging in and out: fresh session on every login, the old one ended, cookies HttpOnly and SameSite.

Password guessing is throttled (``labeling.throttle``): past the limit, the form
answers 429 with ``Retry-After`` before any password is checked, the same for a
username that does not exist as for one that does.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from qiloop.labeling import auth, throttle
from qiloop.labeling.api import login_guard, security
from qiloop.labeling.api.deps import SESSION_COOKIE, Principal, any_user, optional_principal
from qiloop.labeling.api.errors import CsrfError, http_status
from qiloop.labeling.api.pages import render
from qiloop.labeling.errors import ThrottledError
from qiloop.labeling.models import Role

router = APIRouter(tags=["login"])


def home_of(principal: Principal) -> str:
    """Where a user lands after login: admins on the overview, everyone else on the job list."""
    return "/admin" if principal.role == Role.ADMIN.value else "/jobs"


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/", include_in_schema=False)
async def root(request: Request) -> Response:
    principal = await optional_principal(request)
    return RedirectResponse("/login" if principal is None else home_of(principal), status_code=303)


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> Response:
    """The login form, with a fresh signed CSRF nonce."""
    return _login_form(request, next, error=None, status=200)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    username: str = Form(max_length=64),
    password: str = Form(max_length=1024),
    csrf_token: str = Form(default=""),
    next: str = Form(default=""),
) -> Response:
    """Check the password (unless throttled); on success end any session this browser had and start a new one."""
    options = request.app.state.options
    if not security.login_token_ok(options.secret, request.cookies.get(security.LOGIN_COOKIE), csrf_token):
        raise CsrfError("the login form expired or came from another site", hint="reload the login page")
    try:
        login_guard.admit(request, username)
    except ThrottledError as exc:
        refused = _login_form(request, next, error=exc.message, status=http_status(exc))
        return login_guard.with_retry_after(refused, exc)
    db = request.app.state.db
    with db.session() as session:
        user = auth.authenticate(session, username, password)
        if user is None:
            failed = True
        else:
            failed = False
            throttle.forget(session, username)
            old = request.cookies.get(SESSION_COOKIE)
            if old:
                auth.end_session(session, old)  # renewal: the id this browser had is dead from now on
            fresh = auth.start_session(session, user, options.session_lifetime)
            landing = home_of(Principal(user.id, user.username, user.role, "session"))
    if failed:
        return _login_form(request, next, error="wrong username or password", status=401)
    response = RedirectResponse(security.safe_next(next, landing), status_code=303)
    max_age = int(options.session_lifetime.total_seconds())
    security.set_cookie(response, SESSION_COOKIE, fresh.cookie, secure=_secure(request), max_age=max_age)
    response.delete_cookie(security.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, who: Principal = Depends(any_user)) -> Response:
    """End the session: its cookie stops working at once, everywhere."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(_end, request.app.state.db, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


def _end(db, cookie: str) -> None:
    with db.session() as session:
        auth.end_session(session, cookie)


def _login_form(request: Request, next: str | None, *, error: str | None, status: int) -> Response:
    nonce = security.new_login_nonce()
    token = security.login_token(request.app.state.options.secret, nonce)
    response = render(
        request, "login.html", status=status, login_token=token, next=security.safe_next(next, ""), error=error
    )
    security.set_cookie(response, security.LOGIN_COOKIE, nonce, secure=_secure(request), max_age=3600, path="/login")
    return response


def _secure(request: Request) -> bool:
    return request.app.state.options.labeling_https or request.url.scheme == "https"
