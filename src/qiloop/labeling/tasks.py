"""The task queue: leasing images to workers and taking their boxes back.

Rules, each enforced where it cannot be bypassed:

- A worker never gets the same image twice in a job: a unique constraint on
  ``(job, image, worker)``, not only the query that picks the next image.
- An image gets at most N annotations per round: ``JobItem.active_tasks``
  counts its leased and submitted tasks and is raised in the same transaction
  that locks the item row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite
  the whole transaction holds the write lock), so two workers never take the
  last slot together.
- A lease that runs out returns the image to the queue: every fetch first marks
  overdue tasks expired and frees their slots, and a late submission is refused.
- A worker holds one task per job at a time; asking again returns the same task.
- Only an open job hands out tasks (``labeling.lifecycle``); a worker who finds
  nothing is told whether images remain leased to others, and when to ask again.
- Every ``gold_every``-th task of a worker is a gold image they have not seen in
  this job, scored on submission; workers are not told which tasks are gold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qiloop.core.errors import NotFoundError
from qiloop.core.records import Box
from qiloop.core.retry import TASK_LEASE
from qiloop.labeling import boxes as box_json
from qiloop.labeling import gold_prelabels, leases
from qiloop.labeling.backlog import retry_after
from qiloop.labeling.db import Database, utcnow
from qiloop.labeling.errors import ConflictError
from qiloop.labeling.gold import score_against_gold
from qiloop.labeling.jobs import get_job
from qiloop.labeling.lifecycle import refuse_cancelled, refuse_unless_open
from qiloop.labeling.models import Annotation, GoldItem, Job, JobItem, Task, TaskState, User
from qiloop.labeling.verification import consolidate_item
from qiloop.labeling.workforce import active_user


@dataclass(frozen=True)
class TaskView:
    """What a worker sees of a task: the image, the job's classes and instructions, the pre-labels."""

    id: int
    job: str
    image_sha256: str
    image_uri: str
    image_width: int
    image_height: int
    classes: tuple[str, ...]
    instructions: str
    prelabels: tuple[Box, ...]
    leased_until: datetime


@dataclass(frozen=True)
class Offer:
    """The queue's answer: a task, or none and when to ask again (``retry_after`` None: nothing is left for you)."""

    task: TaskView | None
    retry_after: float | None = None


def next_task(db: Database, job_name: str, username: str, now: datetime | None = None) -> TaskView | None:
    """Lease the next image of ``job_name`` to ``username``; None when none is free for them now.

    Raises:
        NotFoundError: No such job or user.
        PermissionDeniedError: The user is disabled.
        ConflictError: The job is closed or cancelled (a task already held in a closed job is still returned).
    """
    return offer_task(db, job_name, username, now).task


def offer_task(db: Database, job_name: str, username: str, now: datetime | None = None) -> Offer:
    """Like :func:`next_task`, and when no task is free, the seconds until one may be (see ``labeling.backlog``)."""

    def lease() -> Offer:
        with db.session() as session:
            return _lease(session, job_name, username, now or utcnow())

    # IntegrityError: the same worker asked twice at once and the other request won; ask again.
    return TASK_LEASE.call(lease, retry_on=IntegrityError)


def submit(
    db: Database, task_id: int, username: str, boxes: Sequence[Box | dict[str, Any]], now: datetime | None = None
) -> bool:
    """Store a worker's boxes for their task; returns True when this completed the image's round.

    An image's round completes with its N-th annotation: it is then consolidated
    and waits for a verifier.

    Raises:
        NotFoundError: The task does not exist or is not this worker's (the two are not told apart).
        ConflictError: The task was already submitted, its lease ran out, or its job was cancelled.
        InvalidRecordError: A box is malformed, outside the image or of an unknown class.
    """
    now = now or utcnow()
    with db.session() as session:
        worker = active_user(session, username)
        task = session.get(Task, task_id, with_for_update=True)
        if task is None or task.worker_id != worker.id:
            raise NotFoundError(f"no task {task_id} for {username!r}", hint="fetch a task first")
        if task.state == TaskState.SUBMITTED.value:
            raise ConflictError(f"task {task_id} was already submitted", hint="fetch the next task")
        job = session.get(Job, task.job_id)
        refuse_cancelled(job, "takes no more submissions")
        if task.state == TaskState.EXPIRED.value or task.leased_until < now:
            raise ConflictError(
                f"the lease on task {task_id} ran out at {task.leased_until:%Y-%m-%d %H:%M:%S} UTC",
                hint="the image went back to the queue; fetch the next task",
            )
        gold = session.get(GoldItem, task.gold_item_id) if task.gold_item_id is not None else None
        item = session.get(JobItem, task.item_id, with_for_update=True) if task.item_id is not None else None
        size = (gold.image_width, gold.image_height) if gold else (item.image_width, item.image_height)
        checked = box_json.check(boxes, width=size[0], height=size[1], classes=job.classes)
        gold_f1 = score_against_gold(checked, box_json.from_json(gold.boxes)).f1 if gold else None
        session.add(
            Annotation(
                task_id=task.id, worker_id=worker.id, boxes=box_json.to_json(checked), submitted_at=now, gold_f1=gold_f1
            )
        )
        task.state, task.submitted_at = TaskState.SUBMITTED.value, now
        session.flush()
        if item is None or _submitted(session, item) < job.annotators_per_image:
            return False
        consolidate_item(session, job, item, now)
        return True


def _lease(session: Session, job_name: str, username: str, now: datetime) -> Offer:
    # A shared lock on the job row: a cancellation (which locks it for update) waits for leases in flight.
    job = get_job(session, job_name, lock="share")
    refuse_cancelled(job, "hands out no tasks")
    worker = active_user(session, username)
    # One request per worker at a time (the row lock), so a worker never ends up holding two tasks.
    session.execute(select(User.id).where(User.id == worker.id).with_for_update())
    leases.expire_leases(session, now)
    held = session.scalar(
        select(Task).where(Task.job_id == job.id, Task.worker_id == worker.id, Task.state == TaskState.ASSIGNED.value)
    )
    if held is not None:
        return Offer(task_view(session, job, held))
    refuse_unless_open(job)
    task = leases.pick(session, job, worker.id, now)
    if task is None:
        return Offer(None, retry_after(session, job, worker.id, now))
    return Offer(task_view(session, job, task))


def _submitted(session: Session, item: JobItem) -> int:
    query = select(func.count()).where(
        Task.item_id == item.id, Task.round == item.round, Task.state == TaskState.SUBMITTED.value
    )
    return session.scalar(query) or 0


def task_view(session: Session, job: Job, task: Task) -> TaskView:
    """``task`` as its worker sees it; gold tasks show the pre-labels stored for the job, if any."""
    if task.gold_item_id is not None:
        gold = session.get(GoldItem, task.gold_item_id)
        uri, width, height = gold.image_uri, gold.image_width, gold.image_height
        prelabels = gold_prelabels.for_task(session, job.id, gold.id)
    else:
        item = session.get(JobItem, task.item_id)
        uri, width, height = item.image_uri, item.image_width, item.image_height
        prelabels = box_json.from_json(item.prelabels)
    return TaskView(
        task.id,
        job.name,
        task.image_sha256,
        uri,
        width,
        height,
        tuple(job.classes),
        job.instructions,
        prelabels,
        task.leased_until,
    )
