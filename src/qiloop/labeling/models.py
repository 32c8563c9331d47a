"""The labelling service's tables: workforce, jobs, tasks, annotations, gold items, results, decisions.

Boxes are stored as JSON lists of ``Box`` fields (see ``labeling.boxes``); every
time is UTC. Identity across the service is the image's sha256; a job's image
row (``JobItem``) copies what an approved label record needs (uri, size), so
approval never has to reach the image store.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qiloop.labeling.db import Base, UtcDateTime, utcnow


class Role(str, Enum):
    LABELER = "labeler"
    VERIFIER = "verifier"
    ADMIN = "admin"


class ItemState(str, Enum):
    LABELING = "labeling"  # waiting for its N annotations in the current round
    VERIFYING = "verifying"  # consolidated, waiting for a verifier
    APPROVED = "approved"  # approved (or adjusted) and sent to the label store


class TaskState(str, Enum):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    EXPIRED = "expired"  # the lease ran out; the image went back to the queue


class Decision(str, Enum):
    APPROVE = "approve"
    ADJUST = "adjust"
    REJECT = "reject"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiToken(Base):
    """A token for scripts; only its sha256 is stored (tokens are long random strings, not passwords)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BrowserSession(Base):
    """A logged-in browser: the cookie's sha256, its CSRF token, and when it ends."""

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


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


class ConsolidatedResult(Base):
    """The consolidation of one item's round: boxes with their annotators and support, and the agreement."""

    __tablename__ = "consolidated_results"
    __table_args__ = (UniqueConstraint("item_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("job_items.id"))
    round: Mapped[int] = mapped_column(Integer)
    boxes: Mapped[list] = mapped_column(JSON)
    annotators: Mapped[list] = mapped_column(JSON)
    weights: Mapped[dict] = mapped_column(JSON)
    agreement: Mapped[float] = mapped_column(Float, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VerificationDecision(Base):
    """A verifier's decision on one item's round; approvals carry the final boxes and, once written, the record id."""

    __tablename__ = "verification_decisions"
    __table_args__ = (UniqueConstraint("item_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("job_items.id"))
    round: Mapped[int] = mapped_column(Integer)
    verifier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    boxes: Mapped[list | None] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    record_id: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
