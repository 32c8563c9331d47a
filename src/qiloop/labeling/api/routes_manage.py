"""The admin pages' forms that change jobs and accounts: create, close, reopen, cancel; role, password reset.

Each form posts the session's CSRF token and lands back on its page; a refused
request (an unknown role, a short password, the last admin) answers the error
page with what is wrong and what to do. A refused new job shows the jobs page
again with the reason and the form as it was filled in.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.labeling import accounts, jobs, lifecycle
from qiloop.labeling.api import access, overview
from qiloop.labeling.api.deps import Principal, admin
from qiloop.labeling.api.display import file_name
from qiloop.labeling.api.pages import render
from qiloop.labeling.job_sources import SOURCES, free_images

router = APIRouter(include_in_schema=False)


def jobs_page(request: Request, *, form: dict | None = None, status: int = 200, **message) -> Response:
    """The admin's jobs page: jobs with progress, the new-job form, the latest rejections with their reasons."""
    state = request.app.state
    with state.db.session() as session:
        rows, rejections = overview.jobs(session), access.recent_rejections(session)
    for r in rejections:  # named by file name, never by where the image lies on the server
        r["image_name"] = file_name(state.image_store, r.pop("image_sha256"))
        del r["image_uri"]
    defaults = {"name": "", "source": "unlabeled", "classes": ", ".join(state.settings.classes), "annotators": "3",
                "instructions": "", "gold_every": "0", "limit": ""}  # fmt: skip
    context = {"error": None, "hint": None, "created": request.query_params.get("created")} | message
    return render(
        request, "admin_jobs.html", status=status, jobs=rows, rejections=rejections, sources=SOURCES,
        form=defaults | (form or {}), **context,
    )  # fmt: skip


@router.post("/admin/jobs")
def create_job(
    request: Request,
    name: str = Form(default="", max_length=200),
    source: str = Form(default="unlabeled", max_length=32),
    classes: str = Form(default="", max_length=2000),
    annotators: str = Form(default="3", max_length=8),
    instructions: str = Form(default="", max_length=20_000),
    gold_every: str = Form(default="0", max_length=8),
    limit: str = Form(default="", max_length=12),
    who: Principal = Depends(admin),
) -> Response:
    """Create a job over the free images of a source, as ``qiloop labeling jobs create --from`` does."""
    filled = {"name": name, "source": source, "classes": classes, "annotators": annotators,
              "instructions": instructions, "gold_every": gold_every, "limit": limit}  # fmt: skip
    state = request.app.state
    try:
        spec = jobs.JobSpec.build(
            name=name.strip(),
            classes=[c.strip() for c in classes.split(",") if c.strip()] or list(state.settings.classes),
            instructions=instructions,
            annotators_per_image=_whole(annotators, "annotators per image"),
            gold_every=_whole(gold_every, "gold every"),
        )
        chosen = free_images(state.db, state.image_store, state.label_store, source,
                             limit=_whole(limit, "at most") if limit.strip() else None)  # fmt: skip
        spec = spec.model_copy(update={"prelabel_source": chosen.prelabel_source})
        with state.db.session() as session:
            done = jobs.create_job(session, spec, chosen.records, prelabels=chosen.prelabels, created_by=who.user_id)
    except (ConfigurationError, NotFoundError) as exc:
        return jobs_page(request, form=filled, status=400 if isinstance(exc, ConfigurationError) else 404,
                         error=exc.message, hint=exc.hint)  # fmt: skip
    return RedirectResponse(f"/admin?created={quote(done.name)}", status_code=303)


def _whole(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigurationError(f"{what} must be a whole number, not {text[:20]!r}", hint="e.g. 3") from None


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
