"""Jobs from device feedback carry the device model's boxes as pre-labels to the worker's task."""

from __future__ import annotations

from datetime import datetime, timezone

from labeling_helpers import add_users, ingest_images
from qiloop.core.records import Box
from qiloop.labeling import jobs, tasks
from qiloop.storage import ImageStore
from qiloop.storage.feedback import FeedbackEntry


def test_job_from_feedback_shows_the_device_boxes_as_prelabels(db, tmp_path):
    store = ImageStore.from_url(str(tmp_path / "images"))
    records = ingest_images(store, 3)
    seen = Box.from_xyxy(5, 5, 40, 12, score=0.41)
    sent = datetime(2024, 5, 1, tzinfo=timezone.utc)
    store.feedback.append(
        [
            FeedbackEntry(
                image_sha256=r.sha256, image_name=f"{i}.png", device_id="dev-1", sequence=i,
                reason="uncertain", model_name="scratch", prelabels=[seen] if i == 0 else [], sent_at=sent,
            )
            for i, r in enumerate(records[:2])
        ]
    )  # fmt: skip
    found, prelabels = jobs.feedback_images(store)
    assert [r.sha256 for r in found] == [r.sha256 for r in records[:2]]
    spec = jobs.JobSpec.build(
        name="feedback-1", classes=["scratch"], annotators_per_image=1, prelabel_source="feedback"
    )
    with db.session() as session:
        summary = jobs.create_job(session, spec, found, prelabels=prelabels)
    assert summary.images == 2
    add_users(db, "ann")
    first = tasks.next_task(db, "feedback-1", "ann")
    assert first.image_sha256 == records[0].sha256 and first.classes == ("scratch",)
    assert first.prelabels == (seen,) and first.prelabels[0].score == 0.41
    tasks.submit(db, first.id, "ann", [])
    second = tasks.next_task(db, "feedback-1", "ann")
    assert second.image_sha256 == records[1].sha256 and second.prelabels == ()
