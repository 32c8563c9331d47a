"""From N annotations to an approved label: consolidation, the verifier's queue, approve / adjust / reject.

Approval goes to the label store in steps that can each be retried (see
``labeling.publish``). A rejection sends the image into a new round of the same
job, labelled by workers who have not seen it. A closed job is still verified;
a cancelled one is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.records import Box, LabelRecord
from qiloop.labeling import boxes as box_json
from qiloop.labeling.consolidation import ConsolidatedBox, consolidate, majority_quorum
from qiloop.labeling.db import Database, utcnow
from qiloop.labeling.errors import ConflictError
from qiloop.labeling.jobs import get_job
from qiloop.labeling.lifecycle import refuse_cancelled
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
from qiloop.labeling.publish import label_record, publish
from qiloop.labeling.workforce import accuracy, active_user


@dataclass(frozen=True)
class ReviewItem:
    """What a verifier sees: the image, the consolidated boxes, and each annotator's own boxes."""

    item_id: int
    job: str
    image_sha256: str
    image_uri: str
    image_width: int
    image_height: int
    round: int
    agreement: float
    boxes: tuple[ConsolidatedBox, ...]
    annotations: dict[str, tuple[Box, ...]]


def consolidate_item(session: Session, job: Job, item: JobItem, now: datetime) -> ConsolidatedResult:
    """Consolidate the current round's annotations of ``item`` (weighted by reliability) and queue it for review."""
    annotations = _annotations(session, item)
    ids = session.execute(select(User.username, User.id).where(User.username.in_(annotations))).all()
    weights = {name: acc.reliability for name, acc in accuracy(session, workers=[i for _, i in ids]).items()}
    quorum = min(job.quorum or majority_quorum(job.annotators_per_image), len(annotations))
    result = consolidate(annotations, weights, quorum=quorum, min_support=job.min_support)
    row = ConsolidatedResult(
        item_id=item.id,
        round=item.round,
        boxes=[
            {
                "box": box_json.to_json([c.box], keep_score=True)[0],
                "annotators": list(c.annotators),
                "support": c.support,
                "mean_iou": c.mean_iou,
            }
            for c in result.boxes
        ],
        annotators=list(result.annotators),
        weights=weights,
        agreement=result.agreement,
        created_at=now,
    )
    session.add(row)
    item.state = ItemState.VERIFYING.value
    session.flush()
    return row


def review_queue(db: Database, job_name: str, limit: int = 50) -> list[ReviewItem]:
    """Images of a job waiting for a verifier, lowest agreement first."""
    with db.session() as session:
        job = get_job(session, job_name)
        refuse_cancelled(job, "has no review queue")
        rows = session.execute(
            select(JobItem, ConsolidatedResult)
            .join(
                ConsolidatedResult,
                (ConsolidatedResult.item_id == JobItem.id) & (ConsolidatedResult.round == JobItem.round),
            )
            .where(JobItem.job_id == job.id, JobItem.state == ItemState.VERIFYING.value)
            .order_by(ConsolidatedResult.agreement, JobItem.id)
            .limit(limit)
        ).all()
        return [_review(session, job, item, result) for item, result in rows]


def approve(
    db: Database,
    label_store,
    item_id: int,
    verifier: str,
    boxes: Sequence[Box | dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> LabelRecord:
    """Approve an image's consolidated boxes (or the verifier's adjusted ``boxes``) into the label store.

    Raises:
        NotFoundError: No such item.
        ConflictError: The item is not waiting for a verifier.
        PermissionDeniedError: The user is not a verifier or admin.
    """
    now = now or utcnow()
    with db.session() as session:
        user = active_user(session, verifier, Role.VERIFIER)
        item, result = _reviewable(session, item_id)
        job = session.get(Job, item.job_id)
        if boxes is None:
            final = tuple(Box(**{**c["box"], "score": None}) for c in result.boxes)
        else:
            final = box_json.check(boxes, width=item.image_width, height=item.image_height, classes=job.classes)
        decision = VerificationDecision(
            item_id=item.id,
            round=item.round,
            verifier_id=user.id,
            decided_at=now,
            boxes=box_json.to_json(final),
            decision=(Decision.APPROVE if boxes is None else Decision.ADJUST).value,
        )
        record = label_record(job, item, result, decision, user.username)
        decision.record_id = record.record_id
        session.add(decision)
        item.state = ItemState.APPROVED.value
    publish(db, label_store, [(decision.id, record)])
    return record


def reject(db: Database, item_id: int, verifier: str, reason: str, now: datetime | None = None) -> None:
    """Reject an image's consolidated boxes: it goes back to the queue as a new round."""
    if not reason or not reason.strip():
        raise ConfigurationError("a rejection needs a reason", hint="say what is wrong so the next round does better")
    now = now or utcnow()
    with db.session() as session:
        user = active_user(session, verifier, Role.VERIFIER)
        item, _ = _reviewable(session, item_id)
        session.add(
            VerificationDecision(
                item_id=item.id,
                round=item.round,
                verifier_id=user.id,
                decision=Decision.REJECT.value,
                reason=reason.strip(),
                decided_at=now,
            )
        )
        item.round += 1
        item.state, item.active_tasks = ItemState.LABELING.value, 0


def _reviewable(session: Session, item_id: int) -> tuple[JobItem, ConsolidatedResult]:
    item = session.get(JobItem, item_id, with_for_update=True)
    if item is None:
        raise NotFoundError(f"no labelling item {item_id}", hint="take items from the review queue")
    if item.state != ItemState.VERIFYING.value:
        raise ConflictError(f"item {item_id} is {item.state}, not waiting for a verifier", hint="reload the queue")
    refuse_cancelled(session.get(Job, item.job_id), "takes no more decisions")
    result = session.scalar(
        select(ConsolidatedResult).where(ConsolidatedResult.item_id == item.id, ConsolidatedResult.round == item.round)
    )
    return item, result


def _annotations(session: Session, item: JobItem) -> dict[str, tuple[Box, ...]]:
    rows = session.execute(
        select(User.username, Annotation.boxes)
        .join(Task, Task.id == Annotation.task_id)
        .join(User, User.id == Annotation.worker_id)
        .where(Task.item_id == item.id, Task.round == item.round, Task.state == TaskState.SUBMITTED.value)
    ).all()
    return {name: box_json.from_json(boxes) for name, boxes in rows}


def _review(session: Session, job: Job, item: JobItem, result: ConsolidatedResult) -> ReviewItem:
    boxes = tuple(
        ConsolidatedBox(Box(**c["box"]), tuple(c["annotators"]), c["support"], c["mean_iou"]) for c in result.boxes
    )
    return ReviewItem(
        item.id,
        job.name,
        item.image_sha256,
        item.image_uri,
        item.image_width,
        item.image_height,
        item.round,
        result.agreement,
        boxes,
        _annotations(session, item),
    )
