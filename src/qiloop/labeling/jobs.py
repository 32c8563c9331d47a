"""Labelling jobs: which images, which classes, how many annotators, and how far along they are.

A job is created from the images that have no APPROVED label in the label store,
from the feedback images devices sent back (with their model's boxes as
pre-labels), or from any chosen set. An image already waiting in another job's
queue is left out, so no image is labelled by two jobs at once; a cancelled
job's images are free again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.records import Box, ImageRecord, describe
from qiloop.labeling import boxes as box_json
from qiloop.labeling.consolidation import DEFAULT_MIN_SUPPORT
from qiloop.labeling.models import ItemState, Job, JobItem

_INSERT_CHUNK = 1000


class JobState(str, Enum):
    """Where a job stands (see ``labeling.lifecycle`` for what each state allows)."""

    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class JobSpec(BaseModel):
    """What a job asks of its workers; validated when built.

    Example:
        >>> JobSpec(name="tags-2024-05", classes=["scratch"]).annotators_per_image
        3
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    classes: list[str] = Field(min_length=1)
    instructions: str = Field(default="", max_length=20_000)
    annotators_per_image: int = Field(default=3, ge=1, le=20)
    quorum: int | None = Field(default=None, ge=1)
    min_support: float | None = Field(default=DEFAULT_MIN_SUPPORT, gt=0, le=1, description="Weighted vote: keep a "
                                      "box whose annotators hold this share of the reliability weight; None: "
                                      "the quorum alone decides.")  # fmt: skip
    lease_seconds: float = Field(default=900.0, gt=0)
    gold_every: int = Field(default=0, ge=0, description="Every n-th task of a worker is a gold image; 0: none.")
    prelabel_source: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _check(self) -> JobSpec:
        if self.quorum is not None and self.quorum > self.annotators_per_image:
            raise ValueError(f"quorum {self.quorum} exceeds annotators_per_image {self.annotators_per_image}")
        if any(not c.strip() or len(c) > 64 for c in self.classes) or len(set(self.classes)) != len(self.classes):
            raise ValueError("class names must be distinct, non-blank and at most 64 characters")
        return self

    @classmethod
    def build(cls, **fields) -> JobSpec:
        """A spec from user input, turning validation errors into a :class:`ConfigurationError`."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            raise ConfigurationError(f"invalid job: {describe(exc, 'job')}", hint="correct the named field") from exc


@dataclass(frozen=True)
class JobSummary:
    """A job and its progress (images by state)."""

    id: int
    name: str
    state: str
    classes: tuple[str, ...]
    annotators_per_image: int
    images: int
    labeling: int
    verifying: int
    approved: int
    created_at: datetime


def create_job(
    session: Session,
    spec: JobSpec,
    images: Sequence[ImageRecord],
    *,
    prelabels: Mapping[str, Sequence[Box]] | None = None,
    created_by: int | None = None,
) -> JobSummary:
    """Create a job over ``images`` (each once), skipping images queued in another unfinished job.

    Args:
        prelabels: Boxes to show workers first, by image sha256 (e.g. the production model's).

    Raises:
        ConfigurationError: The job name is taken.
        NotFoundError: No image is left to label.
    """
    if session.scalar(select(Job.id).where(Job.name == spec.name)) is not None:
        raise ConfigurationError(f"a job named {spec.name!r} already exists", hint="choose another job name")
    queued = queued_sha256s(session)
    unique = {r.sha256: r for r in images if r.sha256 not in queued}
    if not unique:
        raise NotFoundError(
            f"no image to label for job {spec.name!r} ({len(images)} offered, all labelled or queued elsewhere)",
            hint="ingest new images, or name images that are neither approved nor in an open job",
        )
    job = Job(**spec.model_dump(), created_by=created_by)
    session.add(job)
    session.flush()
    rows = [_item_row(job.id, r, (prelabels or {}).get(r.sha256, ())) for r in unique.values()]
    for start in range(0, len(rows), _INSERT_CHUNK):
        session.execute(insert(JobItem), rows[start : start + _INSERT_CHUNK])
    return summary(session, job)


def queued_sha256s(session: Session) -> set[str]:
    """Images waiting in another job's queue: not approved yet, in a job that is not cancelled."""
    query = (
        select(JobItem.image_sha256)
        .join(Job, Job.id == JobItem.job_id)
        .where(JobItem.state != ItemState.APPROVED.value, Job.state != JobState.CANCELLED.value)
        .distinct()
    )
    return set(session.scalars(query))


def images_without_approved_label(
    image_store, label_store, limit: int | None = None, *, exclude: Collection[str] = ()
) -> list[ImageRecord]:
    """Images in the image store whose latest label is not APPROVED, oldest first.

    ``exclude`` (pass :func:`queued_sha256s`) is left out before ``limit`` applies, so
    the limit counts images a new job can take, not images another job holds.
    """
    records = image_store.unlabeled(label_store.labeled_sha256s() | set(exclude))
    return records[:limit] if limit is not None else records


def feedback_images(
    image_store, limit: int | None = None, *, exclude: Collection[str] = ()
) -> tuple[list[ImageRecord], dict[str, list[Box]]]:
    """Images devices sent back, with the boxes their model saw as pre-labels (the latest report per image).

    ``exclude`` is left out before ``limit`` applies (see :func:`images_without_approved_label`);
    only the images kept are looked up in the store.
    """
    prelabels: dict[str, list[Box]] = {}
    for entry in image_store.feedback.list():
        if entry.image_sha256 not in exclude:
            prelabels[entry.image_sha256] = list(entry.prelabels)
    chosen = list(prelabels)[:limit] if limit is not None else list(prelabels)
    return [image_store.get(sha) for sha in chosen], prelabels


def get_job(session: Session, name: str, *, lock: Literal["share", "update"] | None = None) -> Job:
    """The job named ``name``, its row locked for the transaction when asked (``share``: against changes).

    Raises:
        NotFoundError: No such job.
    """
    query = select(Job).where(Job.name == name)
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    job = session.scalar(query)
    if job is None:
        raise NotFoundError(f"no labelling job named {name!r}", hint="`qiloop labeling jobs ls` lists the jobs")
    return job


def summary(session: Session, job: Job) -> JobSummary:
    """A job's progress: its images counted by state."""
    counts = dict(
        session.execute(
            select(JobItem.state, func.count()).where(JobItem.job_id == job.id).group_by(JobItem.state)
        ).all()
    )
    return JobSummary(
        id=job.id,
        name=job.name,
        state=job.state,
        classes=tuple(job.classes),
        annotators_per_image=job.annotators_per_image,
        images=sum(counts.values()),
        labeling=counts.get(ItemState.LABELING.value, 0),
        verifying=counts.get(ItemState.VERIFYING.value, 0),
        approved=counts.get(ItemState.APPROVED.value, 0),
        created_at=job.created_at,
    )


def list_jobs(session: Session) -> list[JobSummary]:
    """Every job with its progress, newest first."""
    return [summary(session, job) for job in session.scalars(select(Job).order_by(Job.id.desc()))]


def _item_row(job_id: int, record: ImageRecord, prelabels: Sequence[Box]) -> dict:
    return {
        "job_id": job_id,
        "image_sha256": record.sha256,
        "image_uri": record.uri,
        "image_width": record.width,
        "image_height": record.height,
        "image_depth": record.depth,
        "prelabels": box_json.to_json(prelabels, keep_score=True),
        "round": 1,
        "state": ItemState.LABELING.value,
        "active_tasks": 0,
    }
