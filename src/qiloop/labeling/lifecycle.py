"""A job's lifecycle: open, closed (and open again), or cancelled for good.

- **open**: the queue hands out tasks.
- **closed**: no new task is handed out. Workers may still submit the tasks
  they hold, and consolidation and verification go on over what is there;
  reopening resumes the queue where it stopped.
- **cancelled**: the job is abandoned. No task is handed out, every outstanding
  lease ends at once (a late submission is refused), the job leaves the
  workers' lists, its review queue closes, and its unapproved images are free
  for another job. What was approved stays approved: it is in the label store.

Asking for the state a job is already in changes nothing and is not an error,
so scripts may repeat a request; a cancelled job cannot be closed or reopened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from qiloop.labeling import leases
from qiloop.labeling.db import utcnow
from qiloop.labeling.errors import ConflictError
from qiloop.labeling.jobs import JobState, JobSummary, get_job, summary
from qiloop.labeling.models import Job, Task, TaskState


@dataclass(frozen=True)
class Transition:
    """What a lifecycle request did: the job now, the state it left, and the leases it ended."""

    job: JobSummary
    previous: str
    leases_ended: int = 0

    @property
    def changed(self) -> bool:
        return self.previous != self.job.state


def close_job(session: Session, name: str) -> Transition:
    """Stop handing out tasks of ``name``; outstanding leases may still be submitted.

    Raises:
        NotFoundError: No such job.
        ConflictError: The job was cancelled.
    """
    return _move(session, name, JobState.CLOSED)


def reopen_job(session: Session, name: str) -> Transition:
    """Hand out tasks of a closed job again.

    Raises:
        NotFoundError: No such job.
        ConflictError: The job was cancelled.
    """
    return _move(session, name, JobState.OPEN)


def cancel_job(session: Session, name: str, now: datetime | None = None) -> Transition:
    """Abandon ``name``: end its outstanding leases and free its unapproved images; approvals stay.

    Raises:
        NotFoundError: No such job.
    """
    job = get_job(session, name, lock="update")
    previous = job.state
    ended = 0
    if previous != JobState.CANCELLED.value:
        job.state = JobState.CANCELLED.value
        ended = _end_leases(session, job, now or utcnow())
        session.flush()
    return Transition(summary(session, job), previous, ended)


def refuse_unless_open(job: Job) -> None:
    """Refuse a new task from a job that is not open.

    Raises:
        ConflictError: The job is closed or cancelled.
    """
    if job.state == JobState.OPEN.value:
        return
    if job.state == JobState.CANCELLED.value:
        raise ConflictError(f"the job {job.name!r} was cancelled", hint="pick another job from the job list")
    raise ConflictError(
        f"the job {job.name!r} is {job.state}: it hands out no new tasks",
        hint="pick another job, or ask an admin to reopen this one",
    )


def refuse_cancelled(job: Job, action: str) -> None:
    """Refuse ``action`` (e.g. "takes no more submissions") on a cancelled job.

    Raises:
        ConflictError: The job was cancelled.
    """
    if job.state == JobState.CANCELLED.value:
        raise ConflictError(f"the job {job.name!r} was cancelled and {action}", hint="pick another job")


def _move(session: Session, name: str, target: JobState) -> Transition:
    job = get_job(session, name, lock="update")
    previous = job.state
    if previous == JobState.CANCELLED.value:
        raise ConflictError(
            f"the job {name!r} was cancelled; a cancelled job stays cancelled",
            hint="create a new job for the images it left unlabelled",
        )
    job.state = target.value
    session.flush()
    return Transition(summary(session, job), previous)


def _end_leases(session: Session, job: Job, now: datetime) -> int:
    """Expire the job's outstanding tasks (their slots go back to their images, as when a lease runs out)."""
    held = session.scalars(
        select(Task)
        .where(Task.job_id == job.id, Task.state == TaskState.ASSIGNED.value)
        .order_by(Task.item_id, Task.id)
        .with_for_update()
    ).all()
    for task in held:
        task.leased_until = min(task.leased_until, now)
    leases.release(session, held)
    return len(held)
