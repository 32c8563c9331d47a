"""Ownership questions the routes ask before they show anything: whose task, which image, which reasons.

Plain SQLAlchemy on the service's tables; every function answers for one
caller, so a route can never show another worker's task by forgetting a filter.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from qiloop.core.errors import NotFoundError
from qiloop.labeling import boxes as box_json
from qiloop.labeling.jobs import JobState
from qiloop.labeling.models import (
    Annotation,
    ConsolidatedResult,
    Decision,
    ItemState,
    Job,
    JobItem,
    Role,
    Task,
    TaskState,
    User,
    VerificationDecision,
)
from qiloop.labeling.overlap import f1
from qiloop.labeling.tasks import TaskView, task_view


def own_task(session: Session, task_id: int, user_id: int) -> TaskView:
    """The caller's task ``task_id`` as a worker sees it.

    Raises:
        NotFoundError: No such task, or it is another worker's (the two are not told apart).
    """
    task = session.get(Task, task_id)
    if task is None or task.worker_id != user_id:
        raise NotFoundError(f"no task {task_id} of yours", hint="fetch a task from a job's queue")
    return task_view(session, session.get(Job, task.job_id), task)


def task_state(session: Session, task_id: int) -> str:
    """The state of a task (assigned, submitted, expired)."""
    return session.get(Task, task_id).state


def last_rejection(session: Session, task_id: int) -> str | None:
    """Why the previous round of this task's image was rejected, to guide the next labeller (None: first round)."""
    task = session.get(Task, task_id)
    if task is None or task.item_id is None or task.round <= 1:
        return None
    return session.scalar(
        select(VerificationDecision.reason).where(
            VerificationDecision.item_id == task.item_id,
            VerificationDecision.round == task.round - 1,
            VerificationDecision.decision == Decision.REJECT.value,
        )
    )


def may_read_image(session: Session, user_id: int, role: str, sha256: str) -> bool:
    """Whether the caller holds a live task on the image, or (verifiers, admins) it awaits review in a live job."""
    held = session.scalar(
        select(
            exists().where(
                Task.worker_id == user_id, Task.image_sha256 == sha256, Task.state == TaskState.ASSIGNED.value
            )
        )
    )
    if held:
        return True
    if role not in (Role.VERIFIER.value, Role.ADMIN.value):
        return False
    return bool(
        session.scalar(
            select(
                exists().where(
                    JobItem.image_sha256 == sha256,
                    JobItem.state == ItemState.VERIFYING.value,
                    JobItem.job_id == Job.id,
                    Job.state != JobState.CANCELLED.value,  # a cancelled job is verified no more
                )
            )
        )
    )


def recent_rejections(session: Session, limit: int = 100) -> list[dict]:
    """The latest rejections with their reasons, newest first (for the admin's overview)."""
    rows = session.execute(
        select(VerificationDecision, JobItem.image_uri, JobItem.image_sha256, Job.name, User.username)
        .join(JobItem, JobItem.id == VerificationDecision.item_id)
        .join(Job, Job.id == JobItem.job_id)
        .join(User, User.id == VerificationDecision.verifier_id)
        .where(VerificationDecision.decision == Decision.REJECT.value)
        .order_by(VerificationDecision.decided_at.desc(), VerificationDecision.id.desc())
        .limit(limit)
    ).all()
    return [
        {"job": job, "image_uri": uri, "image_sha256": sha, "round": d.round, "verifier": name, "reason": d.reason,
         "at": d.decided_at}
        for d, uri, sha, job, name in rows
    ]  # fmt: skip


def consensus_agreement(session: Session) -> dict[str, tuple[int, float]]:
    """Per worker: how many consolidated images they annotated and their mean F1 against the consolidated boxes.

    A worker far below the others draws boxes the rest of the workforce does not
    confirm, a signal that needs no gold images.
    """
    rows = session.execute(
        select(User.username, Annotation.boxes, ConsolidatedResult.boxes)
        .join(Task, Task.id == Annotation.task_id)
        .join(User, User.id == Annotation.worker_id)
        .join(
            ConsolidatedResult,
            (ConsolidatedResult.item_id == Task.item_id) & (ConsolidatedResult.round == Task.round),
        )
    ).all()
    scores: dict[str, list[float]] = defaultdict(list)
    for name, mine, consolidated in rows:
        final = box_json.from_json([c["box"] for c in consolidated])
        scores[name].append(f1(box_json.from_json(mine), final))
    return {name: (len(values), sum(values) / len(values)) for name, values in scores.items()}
