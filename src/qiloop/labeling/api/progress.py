"""How far a job is, as its labellers see it: images whose labelling is done out of all, and their own count."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qiloop.labeling.models import ItemState, JobItem, Task, TaskState


def job_progress(session: Session, job_id: int, user_id: int) -> dict[str, int]:
    """``images`` in the job, ``labelled`` (every annotator of the round has submitted), and ``yours``.

    ``yours`` counts the caller's submitted tasks in the job, gold images included:
    what they have done, not what was kept.
    """
    counts = dict(
        session.execute(
            select(JobItem.state, func.count()).where(JobItem.job_id == job_id).group_by(JobItem.state)
        ).all()
    )
    images = sum(counts.values())
    yours = session.scalar(
        select(func.count()).where(
            Task.job_id == job_id, Task.worker_id == user_id, Task.state == TaskState.SUBMITTED.value
        )
    )
    return {"images": images, "labelled": images - counts.get(ItemState.LABELING.value, 0), "yours": yours or 0}
