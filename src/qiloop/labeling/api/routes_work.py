"""The labeller's API: open jobs, the next task, a task, its image, submitting boxes.

Any role may label (admins and verifiers too); a task is only ever visible to
the worker who holds it, and an image only to someone with a reason to see it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from qiloop.core.errors import NotFoundError
from qiloop.labeling import tasks
from qiloop.labeling.api import access
from qiloop.labeling.api.deps import Principal, any_user
from qiloop.labeling.api.display import file_name, for_browser
from qiloop.labeling.api.params import RowId
from qiloop.labeling.api.progress import job_progress
from qiloop.labeling.api.schemas import BoxesIn, TaskOut
from qiloop.labeling.backlog import header_seconds
from qiloop.labeling.models import Job, Task
from qiloop.labeling.prelabel import merge_near_duplicates

router = APIRouter(prefix="/api/v1", tags=["labelling"])


@router.get("/me")
def me(who: Principal = Depends(any_user)) -> dict:
    """The caller's account."""
    return {"username": who.username, "role": who.role}


@router.get("/jobs")
def open_jobs(request: Request, who: Principal = Depends(any_user)) -> list[dict]:
    """Open jobs a worker may take tasks from."""
    with request.app.state.db.session() as session:
        jobs = session.scalars(select(Job).where(Job.state == "open").order_by(Job.id)).all()
        return [{"name": j.name, "classes": list(j.classes), "instructions": j.instructions} for j in jobs]


@router.post(
    "/jobs/{job}/tasks/next",
    response_model=TaskOut,
    responses={
        204: {"description": "No task for you now; with Retry-After, images remain leased to others until then"},
        409: {"description": "The job is closed or cancelled"},
    },
)
def next_task(job: str, request: Request, who: Principal = Depends(any_user)):
    """Lease the caller's next image of ``job`` (the one already held, if any).

    204 without ``Retry-After``: nothing is left for the caller. 204 with
    ``Retry-After: N``: images remain that others hold leases on; ask again in N
    seconds, one of them may be free by then.
    """
    db = request.app.state.db
    offer = tasks.offer_task(db, job, who.username)
    if offer.task is None:
        wait = {} if offer.retry_after is None else {"Retry-After": header_seconds(offer.retry_after)}
        return Response(status_code=204, headers=wait)
    return _task_out(request, offer.task.id, who)


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task_id: RowId, request: Request, who: Principal = Depends(any_user)) -> TaskOut:
    """One of the caller's tasks (404 for anybody else's)."""
    return _task_out(request, task_id, who)


@router.post("/tasks/{task_id}/submit")
def submit(task_id: RowId, body: BoxesIn, request: Request, who: Principal = Depends(any_user)) -> dict:
    """Store the caller's boxes for their task; ``completed`` says whether the image's round is now complete."""
    completed = tasks.submit(request.app.state.db, task_id, who.username, body.boxes)
    return {"task_id": task_id, "completed": completed}


@router.get("/images/{sha256}")
def image(sha256: str, request: Request, who: Principal = Depends(any_user)) -> Response:
    """The image's bytes, for a caller holding a task on it (or verifying it)."""
    with request.app.state.db.session() as session:
        allowed = access.may_read_image(session, who.user_id, who.role, sha256)
    if not allowed:
        raise NotFoundError(f"no image {sha256[:16]!r} among your tasks", hint="fetch a task first")
    record, data = request.app.state.images.read(sha256)  # never waits on an upload
    body, media_type = for_browser(data, record.format)
    return Response(body, media_type=media_type, headers={"Cache-Control": "private, max-age=600"})


def _task_out(request: Request, task_id: int, who: Principal) -> TaskOut:
    """The task with its image's file name, its pre-labels merged for showing, and the job's progress."""
    with request.app.state.db.session() as session:
        view = access.own_task(session, task_id, who.user_id)
        return TaskOut.of(
            view,
            access.task_state(session, task_id),
            access.last_rejection(session, task_id),
            name=file_name(request.app.state.image_store, view.image_sha256),
            shown=merge_near_duplicates(view.prelabels),
            progress=job_progress(session, session.get(Task, task_id).job_id, who.user_id),
        )
