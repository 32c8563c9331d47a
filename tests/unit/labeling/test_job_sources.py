"""Which images a new job may take (the selection the loop's use case and the admin's form share)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from labeling_helpers import add_users, ingest_images
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.records import Box, LabelRecord
from qiloop.labeling import jobs, tasks
from qiloop.labeling.api.progress import job_progress
from qiloop.labeling.job_sources import free_images
from qiloop.labeling.models import Job
from qiloop.labeling.workforce import find_user
from qiloop.labelstore import LabelStore
from qiloop.storage import ImageStore
from qiloop.storage.feedback import FeedbackEntry

SEEN = Box.from_xyxy(5, 5, 40, 12, score=0.41)


@pytest.fixture
def stores(tmp_path):
    return ImageStore.from_url(str(tmp_path / "images")), LabelStore.from_url(str(tmp_path / "labels"))


def spec(name: str, **fields) -> jobs.JobSpec:
    return jobs.JobSpec.build(name=name, classes=["scratch"], annotators_per_image=1, **fields)


def open_job(db, images, labels, job: jobs.JobSpec, source="unlabeled", *, limit=None) -> jobs.JobSummary:
    """What the admin's form does: select, then create the job with the devices' boxes."""
    chosen = free_images(db, images, labels, source, limit=limit)
    job = job.model_copy(update={"prelabel_source": chosen.prelabel_source})
    with db.session() as session:
        return jobs.create_job(session, job, chosen.records, prelabels=chosen.prelabels)


def send_feedback(images, records, device="dev-1", first=0) -> None:
    at = datetime.now(timezone.utc)
    images.feedback.append(
        [
            FeedbackEntry(
                image_sha256=r.sha256, image_name="cam.png", device_id=device, sequence=first + i,
                reason="uncertain", model_name="scratch", prelabels=[SEEN], sent_at=at,
            )
            for i, r in enumerate(records)
        ]
    )  # fmt: skip


def test_unlabelled_images_go_to_one_job_only_and_the_limit_counts_free_ones(db, stores):
    images, labels = stores
    records = ingest_images(images, 5)
    first = open_job(db, images, labels, spec("first"), limit=2)
    assert first.images == 2 and first.name == "first"
    chosen = free_images(db, images, labels)
    assert chosen.source == "unlabeled" and chosen.prelabel_source is None and chosen.prelabels == {}
    assert [r.sha256 for r in chosen.records] == [r.sha256 for r in records[2:]]  # the first job's two are held
    second = open_job(db, images, labels, spec("second"))
    assert second.images == 3
    assert free_images(db, images, labels).records == []
    with pytest.raises(NotFoundError, match="no image"):
        open_job(db, images, labels, spec("third"))


def test_feedback_images_bring_their_device_boxes_and_leave_approved_ones_out(db, stores):
    images, labels = stores
    records = ingest_images(images, 3)
    send_feedback(images, records[1:])
    approved = records[2]  # approved since it came back: not labelled again
    now = datetime.now(timezone.utc)
    labels.append([LabelRecord(image_uri=approved.uri, image_sha256=approved.sha256, image_width=approved.width,
                               image_height=approved.height, image_depth=approved.depth, event_time=now)])  # fmt: skip
    chosen = free_images(db, images, labels, "feedback")
    assert [r.sha256 for r in chosen.records] == [records[1].sha256]
    assert chosen.prelabel_source == "feedback" and chosen.prelabels == {records[1].sha256: [SEEN]}
    summary = open_job(db, images, labels, spec("fb"), "feedback")
    assert summary.images == 1
    with db.session() as session:
        assert session.query(Job).filter_by(name="fb").one().prelabel_source == "feedback"
    add_users(db, "ann")
    task = tasks.next_task(db, "fb", "ann")
    assert task.image_sha256 == records[1].sha256 and task.prelabels == (SEEN,)


def test_feedback_of_one_device_since_a_moment(db, stores):
    images, labels = stores
    old, mine, other = (ingest_images(images, 1, first_seed=s) for s in (0, 10, 20))
    send_feedback(images, old, device="line-1")
    after = datetime.now(timezone.utc) + timedelta(microseconds=1)
    send_feedback(images, mine, device="line-1", first=1)  # a device numbers its messages
    send_feedback(images, other, device="line-2")
    chosen = free_images(db, images, labels, "feedback", device_id="line-1", since=after)
    assert [r.sha256 for r in chosen.records] == [mine[0].sha256]
    assert len(free_images(db, images, labels, "feedback").records) == 3


def test_named_images_by_prefix_leave_held_ones_out(db, stores):
    images, labels = stores
    records = ingest_images(images, 3)
    open_job(db, images, labels, spec("held"), limit=1)
    chosen = free_images(db, images, labels, "named", named=[r.sha256[:12] for r in records])
    assert chosen.source == "named" and [r.sha256 for r in chosen.records] == [r.sha256 for r in records[1:]]
    with pytest.raises(NotFoundError):
        free_images(db, images, labels, "named", named=["ffffffffffff"])


def test_an_unknown_source_or_a_taken_name_is_refused_with_a_hint(db, stores):
    images, labels = stores
    ingest_images(images, 2)
    with pytest.raises(ConfigurationError, match="unknown image source") as info:
        free_images(db, images, labels, "camera")
    assert "unlabeled" in info.value.hint
    open_job(db, images, labels, spec("x"), limit=1)
    with pytest.raises(ConfigurationError, match="already exists"):
        open_job(db, images, labels, spec("x"))


def test_progress_counts_images_done_and_the_callers_own_tasks(db, stores):
    images, labels = stores
    ingest_images(images, 3)
    open_job(db, images, labels, spec("p"))
    add_users(db, "ann", "bob")
    with db.session() as session:
        job_id = session.query(Job).filter_by(name="p").one().id
        ann, bob = (find_user(session, name).id for name in ("ann", "bob"))

    def progress(user_id):
        with db.session() as session:
            return job_progress(session, job_id, user_id)

    assert progress(ann) == {"images": 3, "labelled": 0, "yours": 0}
    held = tasks.next_task(db, "p", "ann")
    assert progress(ann) == {"images": 3, "labelled": 0, "yours": 0}  # a leased task is not done yet
    tasks.submit(db, held.id, "ann", [])
    task = tasks.next_task(db, "p", "bob")
    tasks.submit(db, task.id, "bob", [])
    assert progress(ann) == {"images": 3, "labelled": 2, "yours": 1}
    assert progress(bob) == {"images": 3, "labelled": 2, "yours": 1}
