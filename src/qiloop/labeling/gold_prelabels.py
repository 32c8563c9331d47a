"""Pre-labels on gold images, per job, so a worker cannot tell gold tasks by their lack of pre-labels.

A job pre-labelled by a model stores the model's boxes for every gold image
active when it was created, and serves only those gold images (a gold image
added later would be the one task without pre-labels). A job without a model
serves gold images without pre-labels: in a job pre-labelled from device
feedback, that tells them apart, which is why such a job should be given a
model for its gold images too (``--prelabel-model``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import exists, insert, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from qiloop.core.errors import NotFoundError
from qiloop.core.records import Box, ImageRecord
from qiloop.labeling import boxes as box_json
from qiloop.labeling.models import GoldItem, Job, JobGoldPrelabel

MODEL = "model:"


def gold_images(session: Session, image_store) -> list[ImageRecord]:
    """The image records of the active gold images, in the order they are served.

    Raises:
        NotFoundError: A gold image is not in the image store.
    """
    found = []
    for sha256, uri in session.execute(
        select(GoldItem.image_sha256, GoldItem.image_uri).where(GoldItem.active.is_(True)).order_by(GoldItem.id)
    ):
        record = image_store.find(sha256)
        if record is None:
            raise NotFoundError(
                f"the gold image {sha256[:16]} ({uri}) is not in the image store, so no model can pre-label it",
                hint="ingest the image again, or retire it from the gold set",
            )
        found.append(record)
    return found


def store(session: Session, job_id: int, boxes_by_sha256: Mapping[str, Sequence[Box]]) -> int:
    """Keep the pre-labels of job ``job_id`` for the gold images named by sha256; returns how many were stored."""
    ids = dict(session.execute(select(GoldItem.image_sha256, GoldItem.id)).all())
    rows = [
        {"job_id": job_id, "gold_item_id": ids[sha], "boxes": box_json.to_json(boxes, keep_score=True)}
        for sha, boxes in boxes_by_sha256.items()
        if sha in ids
    ]
    if rows:
        session.execute(insert(JobGoldPrelabel), rows)
    return len(rows)


def for_task(session: Session, job_id: int, gold_item_id: int) -> tuple[Box, ...]:
    """The pre-labels job ``job_id`` shows on a gold image (none when the job has no model pre-labels)."""
    row = session.get(JobGoldPrelabel, (job_id, gold_item_id))
    return () if row is None else box_json.from_json(row.boxes)


def served_in(job: Job) -> ColumnElement[bool]:
    """The condition on ``GoldItem`` for being served in ``job``: pre-labelled for it, when the job has a model."""
    if MODEL not in (job.prelabel_source or ""):
        return true()
    return exists().where(JobGoldPrelabel.job_id == job.id, JobGoldPrelabel.gold_item_id == GoldItem.id)
