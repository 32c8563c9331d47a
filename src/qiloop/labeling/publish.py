"""Approved labels into the label store, in a step that can be retried.

The verifier's decision (with its time, so the label record is fully
determined) commits to the service database first; then the record is appended
to the label store, whose appends are idempotent by record id; then the
decision is marked published. A crash or a store failure between the steps
leaves a decision without ``published_at``, and :func:`publish_pending` finishes it.
"""

from __future__ import annotations

from sqlalchemy import select

from qiloop.core.records import LabelRecord, LabelSource, LabelStatus
from qiloop.labeling import boxes as box_json
from qiloop.labeling.db import Database, utcnow
from qiloop.labeling.models import ConsolidatedResult, Decision, Job, JobItem, User, VerificationDecision


def publish_pending(db: Database, label_store) -> int:
    """Append approvals not yet in the label store (after a crash between the two steps); returns how many."""
    with db.session() as session:
        rows = session.execute(
            select(VerificationDecision, JobItem, Job, ConsolidatedResult, User.username)
            .join(JobItem, JobItem.id == VerificationDecision.item_id)
            .join(Job, Job.id == JobItem.job_id)
            .join(
                ConsolidatedResult,
                (ConsolidatedResult.item_id == JobItem.id) & (ConsolidatedResult.round == VerificationDecision.round),
            )
            .join(User, User.id == VerificationDecision.verifier_id)
            .where(VerificationDecision.published_at.is_(None), VerificationDecision.decision != Decision.REJECT.value)
        ).all()
        pending = [(d.id, label_record(job, item, result, d, name)) for d, item, job, result, name in rows]
    publish(db, label_store, pending)
    return len(pending)


def publish(db: Database, label_store, pending: list[tuple[int, LabelRecord]]) -> None:
    """Append ``(decision id, record)`` pairs to the label store in one commit, then mark the decisions published."""
    if not pending:
        return
    label_store.append([record for _, record in pending])
    with db.session() as session:
        for decision_id, _ in pending:
            session.get(VerificationDecision, decision_id).published_at = utcnow()


def label_record(
    job: Job, item: JobItem, result: ConsolidatedResult, decision: VerificationDecision, verifier: str
) -> LabelRecord:
    """The APPROVED record an approval decision stands for, with its provenance."""
    return LabelRecord(
        image_uri=item.image_uri,
        image_sha256=item.image_sha256,
        image_width=item.image_width,
        image_height=item.image_height,
        image_depth=item.image_depth,
        annotations=box_json.from_json(decision.boxes),
        event_time=decision.decided_at,
        labeling_job=job.name,
        status=LabelStatus.APPROVED,
        annotators=tuple(result.annotators),
        agreement=min(1.0, max(0.0, result.agreement)),
        verifier=verifier,
        source=LabelSource.HUMAN,
    )
