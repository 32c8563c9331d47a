"""The caller's own account: the change-password page, for every logged-in user.

The current password is asked for, so a browser left logged in cannot be used
to take the account over. A change ends every session of the account, and the
browser that made it gets a fresh session (a new cookie and CSRF token).
Wrong current passwords count against the account like failed logins
(``labeling.throttle``); past the limit the page answers 429 without checking.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from qiloop.core.errors import ConfigurationError
from qiloop.labeling import accounts, auth, throttle
from qiloop.labeling.api import login_guard, security
from qiloop.labeling.api.deps import SESSION_COOKIE, Principal, any_user
from qiloop.labeling.api.errors import http_status
from qiloop.labeling.api.pages import render
from qiloop.labeling.errors import PermissionDeniedError, ThrottledError
from qiloop.labeling.workforce import MIN_PASSWORD, check_password

router = APIRouter(include_in_schema=False)


@router.get("/account/password")
def password_page(request: Request, changed: bool = False, who: Principal = Depends(any_user)) -> Response:
    """The change-password form."""
    return _page(request, changed=changed)


@router.post("/account/password")
def change_password(
    request: Request,
    current_password: str = Form(max_length=1024),
    new_password: str = Form(max_length=1024),
    confirm_password: str = Form(max_length=1024),
    who: Principal = Depends(any_user),
) -> Response:
    """Change the caller's password; a refused change shows the form again with the reason."""
    if new_password != confirm_password:
        return _page(request, error="the two new passwords differ", hint="type the same new password twice")
    options = request.app.state.options
    try:
        check_password(new_password)  # refused before the current password is checked, so it is no failed attempt
        login_guard.admit(request, who.username)
        with request.app.state.db.session() as session:
            user = accounts.change_own_password(session, who.username, current_password, new_password)
            throttle.forget(session, who.username)
            fresh = auth.start_session(session, user, options.session_lifetime) if who.via == "session" else None
    except ThrottledError as exc:
        refused = _page(request, error=exc.message, hint=exc.hint, status=http_status(exc))
        return login_guard.with_retry_after(refused, exc)
    except (ConfigurationError, PermissionDeniedError) as exc:
        return _page(request, error=exc.message, hint=exc.hint)
    response = RedirectResponse("/account/password?changed=true", status_code=303)
    if fresh is not None:
        secure = options.labeling_https or request.url.scheme == "https"
        max_age = int(options.session_lifetime.total_seconds())
        security.set_cookie(response, SESSION_COOKIE, fresh.cookie, secure=secure, max_age=max_age)
    return response


def _page(
    request: Request,
    *,
    changed: bool = False,
    error: str | None = None,
    hint: str | None = None,
    status: int | None = None,
) -> Response:
    if status is None:
        status = 200 if error is None else 400
    return render(
        request, "account_password.html", status=status, changed=changed, error=error, hint=hint,
        min_password=MIN_PASSWORD,
    )  # fmt: skip
