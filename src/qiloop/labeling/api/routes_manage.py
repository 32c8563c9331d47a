"""The admin pages' forms that change jobs and accounts: close, reopen, cancel; role, password reset.

Each form posts the session's CSRF token and lands back on its page; a refused
request (an unknown role, a short password, the last admin) answers the error
page with what is wrong and what to do.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from qiloop.core.errors import ConfigurationError
from qiloop.labeling import accounts, lifecycle
from qiloop.labeling.api.deps import Principal, admin

router = APIRouter(include_in_schema=False)


@router.post("/admin/jobs/{job}/close")
def close_job(job: str, request: Request, who: Principal = Depends(admin)) -> Response:
    """Stop handing out tasks of ``job``."""
    with request.app.state.db.session() as session:
        lifecycle.close_job(session, job)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/jobs/{job}/reopen")
def reopen_job(job: str, request: Request, who: Principal = Depends(admin)) -> Response:
    """Hand out tasks of a closed job again."""
    with request.app.state.db.session() as session:
        lifecycle.reopen_job(session, job)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/jobs/{job}/cancel")
def cancel_job(
    job: str, request: Request, confirm: str = Form(default="", max_length=16), who: Principal = Depends(admin)
) -> Response:
    """Cancel ``job`` for good; the form's confirmation box must be ticked."""
    if confirm != "yes":
        raise ConfigurationError(
            f"the job {job!r} was not cancelled: the confirmation box was not ticked",
            hint="a cancelled job cannot be reopened; tick the box next to Cancel to confirm",
        )
    with request.app.state.db.session() as session:
        lifecycle.cancel_job(session, job)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{username}/role")
def set_role(
    username: str, request: Request, role: str = Form(max_length=32), who: Principal = Depends(admin)
) -> Response:
    """Change an account's role."""
    with request.app.state.db.session() as session:
        accounts.set_role(session, username, role)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/password")
def reset_password(
    username: str, request: Request, new_password: str = Form(max_length=1024), who: Principal = Depends(admin)
) -> Response:
    """Reset an account's password; its browser sessions end."""
    with request.app.state.db.session() as session:
        accounts.set_password(session, username, new_password)
    return RedirectResponse("/admin/users", status_code=303)
