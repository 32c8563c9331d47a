"""Leases: choosing the image a worker labels next, and taking back the ones whose time ran out.

The choice is where the queue's rules hold under concurrency: the next image is
the job item with the most tasks already (so images complete before new ones
start) that this worker has not seen, locked with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite's transaction holds the write lock), its ``active_tasks``
raised in the same transaction; every ``gold_every``-th task of a worker is a
gold image they have not seen in this job. ``labeling.tasks`` wraps these in
its transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from qiloop.labeling import gold_prelabels
from qiloop.labeling.models import GoldItem, ItemState, Job, JobItem, Task, TaskState


def expire_leases(session: Session, now: datetime) -> int:
    """Mark overdue tasks expired and give their slots back to their images; returns how many."""
    overdue = session.scalars(
        select(Task)
        .where(Task.state == TaskState.ASSIGNED.value, Task.leased_until < now)
        .order_by(Task.item_id, Task.id)
        .with_for_update(skip_locked=True)
    ).all()
    release(session, overdue)
    session.flush()
    return len(overdue)


def release(session: Session, tasks: Sequence[Task]) -> None:
    """Mark leased ``tasks`` expired and give their slots back to their images in the current round."""
    for task in tasks:
        task.state = TaskState.EXPIRED.value
        if task.item_id is not None:
            item = session.get(JobItem, task.item_id, with_for_update=True)
            if item.round == task.round and item.state == ItemState.LABELING.value:
                item.active_tasks -= 1


def pick(session: Session, job: Job, worker_id: int, now: datetime) -> Task | None:
    """Lease the worker a gold image (every ``gold_every``-th task) or the next job item; None when none is free."""
    task = None
    if job.gold_every and (_given(session, job, worker_id) + 1) % job.gold_every == 0:
        task = _lease_gold(session, job, worker_id, now)
    return task if task is not None else _lease_item(session, job, worker_id, now)


def _lease_item(session: Session, job: Job, worker_id: int, now: datetime) -> Task | None:
    seen = exists().where(Task.job_id == job.id, Task.image_sha256 == JobItem.image_sha256, Task.worker_id == worker_id)
    item = session.scalar(
        select(JobItem)
        .where(
            JobItem.job_id == job.id,
            JobItem.state == ItemState.LABELING.value,
            JobItem.active_tasks < job.annotators_per_image,
            ~seen,
        )
        .order_by(JobItem.active_tasks.desc(), JobItem.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=JobItem)
    )
    if item is None:
        return None
    item.active_tasks += 1
    return _add_task(session, job, worker_id, now, item_id=item.id, sha256=item.image_sha256, round_=item.round)


def _lease_gold(session: Session, job: Job, worker_id: int, now: datetime) -> Task | None:
    seen = exists().where(
        Task.job_id == job.id, Task.image_sha256 == GoldItem.image_sha256, Task.worker_id == worker_id
    )
    served = gold_prelabels.served_in(job)
    gold = session.scalar(
        select(GoldItem).where(GoldItem.active.is_(True), ~seen, served).order_by(GoldItem.id).limit(1)
    )
    if gold is None:
        return None
    return _add_task(session, job, worker_id, now, gold_item_id=gold.id, sha256=gold.image_sha256, round_=0)


def _add_task(session: Session, job: Job, worker_id: int, now: datetime, *, sha256: str, round_: int, **ref) -> Task:
    lease = timedelta(seconds=job.lease_seconds)
    task = Task(
        job_id=job.id, image_sha256=sha256, round=round_, worker_id=worker_id, assigned_at=now, leased_until=now + lease
    )
    for key, value in ref.items():
        setattr(task, key, value)
    session.add(task)
    session.flush()
    return task


def _given(session: Session, job: Job, worker_id: int) -> int:
    return session.scalar(select(func.count()).where(Task.job_id == job.id, Task.worker_id == worker_id)) or 0
