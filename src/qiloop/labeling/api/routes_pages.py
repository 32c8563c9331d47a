"""The server-rendered pages: job list, task page, verification page, admin pages and their forms.

Pages carry the session's CSRF token in a ``<meta>`` tag for the page scripts
and in a hidden field of every form; the scripts talk to the JSON API.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from qiloop.core.errors import ConfigurationError
from qiloop.labeling import workforce
from qiloop.labeling.api import overview, routes_manage
from qiloop.labeling.api.deps import Principal, admin, any_user, verifier
from qiloop.labeling.api.pages import render
from qiloop.labeling.jobs import get_job
from qiloop.labeling.models import Role

router = APIRouter(include_in_schema=False)


@router.get("/jobs")
def jobs_page(request: Request, who: Principal = Depends(any_user)) -> Response:
    """Open jobs with links to label; verifiers also see closed jobs, whose images still wait for them."""
    visible = {"open", "closed"} if who.holds(Role.VERIFIER) else {"open"}
    with request.app.state.db.session() as session:
        jobs = [j for j in overview.jobs(session) if j["state"] in visible]
    return render(request, "jobs.html", jobs=jobs)


@router.get("/jobs/{job}/label")
def task_page(job: str, request: Request, who: Principal = Depends(any_user)) -> Response:
    """The canvas task page; its script leases tasks through the API."""
    with request.app.state.db.session() as session:
        found = get_job(session, job)
        context = {"job": found.name, "classes": list(found.classes), "instructions": found.instructions}
    return render(request, "task.html", **context)


@router.get("/jobs/{job}/verify")
def verify_page(job: str, request: Request, who: Principal = Depends(verifier)) -> Response:
    """The verification page: consolidated boxes, annotators' overlays, approve / adjust / reject."""
    with request.app.state.db.session() as session:
        found = get_job(session, job)
        context = {"job": found.name, "classes": list(found.classes), "instructions": found.instructions}
    return render(request, "verify.html", **context)


@router.get("/admin")
def admin_jobs(request: Request, who: Principal = Depends(admin)) -> Response:
    """Jobs with progress, the form that creates one, and the latest rejections with their reasons."""
    return routes_manage.jobs_page(request)


@router.get("/admin/workers")
def admin_workers(request: Request, who: Principal = Depends(admin)) -> Response:
    """Worker accuracy on gold images, reliability, flags, and agreement with the consolidated boxes."""
    with request.app.state.db.session() as session:
        workers = overview.workers(session)
    return render(request, "admin_workers.html", workers=workers)


@router.get("/admin/users")
def admin_users(request: Request, who: Principal = Depends(admin)) -> Response:
    """Accounts, with forms to add, disable and enable them."""
    return _users_page(request)


@router.post("/admin/users")
def admin_add_user(
    request: Request,
    username: str = Form(max_length=200),
    password: str = Form(max_length=1024),
    role: str = Form(default="labeler", max_length=32),
    who: Principal = Depends(admin),
) -> Response:
    """Add an account from the form; a refused one shows the form again with the reason."""
    try:
        with request.app.state.db.session() as session:
            workforce.add_user(session, username, password, role)
    except ConfigurationError as exc:
        return _users_page(request, error=exc.message, hint=exc.hint, status=400)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/disabled")
def admin_set_disabled(
    username: str, request: Request, disabled: str = Form(default="1"), who: Principal = Depends(admin)
) -> Response:
    """Disable (``disabled=1``) or enable (``disabled=0``) an account."""
    with request.app.state.db.session() as session:
        workforce.set_disabled(session, username, disabled != "0")
    return RedirectResponse("/admin/users", status_code=303)


def _users_page(request: Request, *, error: str | None = None, hint: str | None = None, status: int = 200):
    with request.app.state.db.session() as session:
        users = [overview.user_json(u) for u in workforce.list_users(session)]
    return render(request, "admin_users.html", status=status, users=users, error=error, hint=hint)
