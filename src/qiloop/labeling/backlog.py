"""What a worker who got no task should do next: stop, or ask again later.

An empty answer from the queue means one of two things. Either nothing of the
job is left for this worker (every image has its annotations, or the worker
has already labelled the rest), or images remain that other workers hold
leases on: a lease that runs out puts its image back, and this worker may be
the one to take it. :func:`retry_after` tells the two apart, so a worker (or a
script) waits for the earliest such lease instead of leaving an image one
annotation short.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from qiloop.labeling.models import ItemState, Job, JobItem, Task, TaskState

BUSY_RETRY_SECONDS = 1.0
"""When to ask again for an image with a free slot that another request was taking at that moment."""


def retry_after(session: Session, job: Job, worker_id: int, now: datetime) -> float | None:
    """Seconds until an image of ``job`` that this worker has not seen may be free for them; None when none remains.

    Call it after the queue found nothing for the worker (and after overdue
    leases were expired), in the same transaction.
    """
    mine = aliased(Task)
    unseen = ~exists().where(
        mine.job_id == job.id, mine.image_sha256 == JobItem.image_sha256, mine.worker_id == worker_id
    )
    waiting = (JobItem.job_id == job.id, JobItem.state == ItemState.LABELING.value, unseen)
    free = session.scalar(select(exists().where(*waiting, JobItem.active_tasks < job.annotators_per_image)))
    if free:  # skipped because another transaction held its row lock: ask again soon
        return BUSY_RETRY_SECONDS
    earliest = session.scalar(
        select(func.min(Task.leased_until))
        .join(JobItem, JobItem.id == Task.item_id)
        .where(*waiting, Task.state == TaskState.ASSIGNED.value, Task.round == JobItem.round)
    )
    if earliest is None:
        return None
    return max(BUSY_RETRY_SECONDS, (earliest - now).total_seconds())


def header_seconds(seconds: float) -> str:
    """An HTTP ``Retry-After`` value: whole seconds, rounded up, at least 1.

    Example:
        >>> header_seconds(0.2), header_seconds(4.01)
        ('1', '5')
    """
    return str(max(1, math.ceil(seconds)))
