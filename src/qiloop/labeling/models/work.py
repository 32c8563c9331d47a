"""Work tables: jobs and their images, gold images, workers' tasks and the annotations they submit.

Identity across the service is the image's sha256; a job's image row
(``JobItem``) copies what an approved label record needs (uri, size), so
approval never has to reach the image store.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qiloop.labeling.db import Base, UtcDateTime, utcnow


class ItemState(str, Enum):
    LABELING = "labeling"  # waiting for its N annotations in the current round
    VERIFYING = "verifying"  # consolidated, waiting for a verifier
    APPROVED = "approved"  # approved (or adjusted) and sent to the label store


class TaskState(str, Enum):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    EXPIRED = "expired"  # the lease ran out; the image went back to the queue


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    classes: Mapped[list] = mapped_column(JSON)
    instructions: Mapped[str] = mapped_column(Text, default="")
    annotators_per_image: Mapped[int] = mapped_column(Integer)
    quorum: Mapped[int | None] = mapped_column(Integer)
    min_support: Mapped[float | None] = mapped_column(Float)
    lease_seconds: Mapped[float] = mapped_column(Float)
    gold_every: Mapped[int] = mapped_column(Integer, default=0)
    prelabel_source: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class JobItem(Base):
    """One image of a job. ``active_tasks`` counts its leased and submitted tasks in the current round."""

    __tablename__ = "job_items"
    __table_args__ = (
        UniqueConstraint("job_id", "image_sha256"),
        Index("ix_job_items_queue", "job_id", "state", "active_tasks"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    image_sha256: Mapped[str] = mapped_column(String(64), index=True)
    image_uri: Mapped[str] = mapped_column(Text)
    image_width: Mapped[int] = mapped_column(Integer)
    image_height: Mapped[int] = mapped_column(Integer)
    image_depth: Mapped[int] = mapped_column(Integer)
    prelabels: Mapped[list] = mapped_column(JSON, default=list)
    round: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16), default=ItemState.LABELING.value)
    active_tasks: Mapped[int] = mapped_column(Integer, default=0)


class GoldItem(Base):
    """An image whose boxes are known; mixed into jobs to measure workers."""

    __tablename__ = "gold_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    image_uri: Mapped[str] = mapped_column(Text)
    image_width: Mapped[int] = mapped_column(Integer)
    image_height: Mapped[int] = mapped_column(Integer)
    boxes: Mapped[list] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JobGoldPrelabel(Base):
    """The pre-labels one job shows on one gold image, so its gold tasks look like its other tasks."""

    __tablename__ = "job_gold_prelabels"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    gold_item_id: Mapped[int] = mapped_column(ForeignKey("gold_items.id"), primary_key=True)
    boxes: Mapped[list] = mapped_column(JSON)


class Task(Base):
    """One worker's lease on one image of a job (a job item or a gold item).

    The unique constraint is the rule that a worker never gets the same image twice in a job.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("job_id", "image_sha256", "worker_id"),
        Index("ix_tasks_leases", "state", "leased_until"),
        Index("ix_tasks_item", "item_id", "round", "state"),
        Index("ix_tasks_worker", "job_id", "worker_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("job_items.id"))
    gold_item_id: Mapped[int | None] = mapped_column(ForeignKey("gold_items.id"))
    image_sha256: Mapped[str] = mapped_column(String(64))
    round: Mapped[int] = mapped_column(Integer, default=1)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16), default=TaskState.ASSIGNED.value)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    leased_until: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Annotation(Base):
    """What a worker submitted for a task; ``gold_f1`` is set when the task was a gold item."""

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    boxes: Mapped[list] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    gold_f1: Mapped[float | None] = mapped_column(Float)
