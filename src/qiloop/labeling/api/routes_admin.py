"""The admin's API: jobs with progress, worker accuracy and agreement, accounts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from qiloop.labeling import workforce
from qiloop.labeling.api import overview
from qiloop.labeling.api.deps import Principal, admin
from qiloop.labeling.api.schemas import DisabledIn, NewUserIn

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/jobs")
def jobs(request: Request, who: Principal = Depends(admin)) -> list[dict]:
    """Every job with its progress, newest first."""
    with request.app.state.db.session() as session:
        return overview.jobs(session)


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
