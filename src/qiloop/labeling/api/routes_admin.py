"""The admin's API: jobs (create, progress, lifecycle), worker accuracy and agreement, accounts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from qiloop.labeling import accounts, lifecycle, workforce
from qiloop.labeling.api import overview
from qiloop.labeling.api.deps import Principal, admin
from qiloop.labeling.api.schemas import DisabledIn, JobIn, NewUserIn, PasswordIn, RoleIn
from qiloop.labeling.job_sources import free_images
from qiloop.labeling.jobs import JobSpec
from qiloop.labeling.jobs import create_job as write_job

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/jobs")
def jobs(request: Request, who: Principal = Depends(admin)) -> list[dict]:
    """Every job with its progress, newest first."""
    with request.app.state.db.session() as session:
        return overview.jobs(session)


@router.post(
    "/jobs",
    status_code=201,
    responses={400: {"description": "An invalid job, or the name is taken"}, 404: {"description": "No free image"}},
)
def create_job(body: JobIn, request: Request, who: Principal = Depends(admin)) -> dict:
    """Create a job over the free images of ``source``, as ``qiloop labeling jobs create --from`` does."""
    state = request.app.state
    spec = JobSpec.build(
        name=body.name,
        classes=body.classes or list(state.settings.classes),
        instructions=body.instructions,
        annotators_per_image=body.annotators_per_image,
        gold_every=body.gold_every,
        lease_seconds=body.lease_seconds,
    )
    chosen = free_images(state.db, state.image_store, state.label_store, body.source, limit=body.limit)
    spec = spec.model_copy(update={"prelabel_source": chosen.prelabel_source})
    with state.db.session() as session:
        done = write_job(session, spec, chosen.records, prelabels=chosen.prelabels, created_by=who.user_id)
    return overview.job_json(done)


@router.get("/workers")
def workers(request: Request, who: Principal = Depends(admin)) -> list[dict]:
    """Each account's gold accuracy, reliability, flag, and agreement with the consolidated boxes."""
    with request.app.state.db.session() as session:
        return overview.workers(session)


@router.get("/users")
def users(request: Request, who: Principal = Depends(admin)) -> list[dict]:
    """Every account (never a password hash)."""
    with request.app.state.db.session() as session:
        return [overview.user_json(u) for u in workforce.list_users(session)]


@router.post("/users", status_code=201)
def add_user(body: NewUserIn, request: Request, who: Principal = Depends(admin)) -> dict:
    """Create an account."""
    with request.app.state.db.session() as session:
        return overview.user_json(workforce.add_user(session, body.username, body.password, body.role))


@router.post("/users/{username}/disabled")
def set_disabled(username: str, body: DisabledIn, request: Request, who: Principal = Depends(admin)) -> dict:
    """Disable (or enable) an account: its password, tokens and sessions stop at once."""
    with request.app.state.db.session() as session:
        return overview.user_json(workforce.set_disabled(session, username, body.disabled))


@router.post("/jobs/{job}/close")
def close_job(job: str, request: Request, who: Principal = Depends(admin)) -> dict:
    """Stop handing out tasks of ``job``; held tasks may still be submitted, verification goes on."""
    with request.app.state.db.session() as session:
        return _transition(lifecycle.close_job(session, job))


@router.post("/jobs/{job}/reopen")
def reopen_job(job: str, request: Request, who: Principal = Depends(admin)) -> dict:
    """Hand out tasks of a closed job again."""
    with request.app.state.db.session() as session:
        return _transition(lifecycle.reopen_job(session, job))


@router.post("/jobs/{job}/cancel")
def cancel_job(job: str, request: Request, who: Principal = Depends(admin)) -> dict:
    """Abandon ``job``: outstanding leases end, its unapproved images are freed; approvals stay."""
    with request.app.state.db.session() as session:
        return _transition(lifecycle.cancel_job(session, job))


@router.post("/users/{username}/role")
def set_role(username: str, body: RoleIn, request: Request, who: Principal = Depends(admin)) -> dict:
    """Change an account's role (the last enabled admin keeps theirs)."""
    with request.app.state.db.session() as session:
        return overview.user_json(accounts.set_role(session, username, body.role))


@router.post("/users/{username}/password")
def reset_password(username: str, body: PasswordIn, request: Request, who: Principal = Depends(admin)) -> dict:
    """Reset an account's password; its browser sessions end."""
    with request.app.state.db.session() as session:
        ended = accounts.set_password(session, username, body.password)
    return {"username": username, "sessions_ended": ended}


def _transition(done: lifecycle.Transition) -> dict:
    return overview.job_json(done.job) | {
        "previous": done.previous, "changed": done.changed, "leases_ended": done.leases_ended
    }  # fmt: skip
