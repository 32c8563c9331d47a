"""Opening a job from a source of images, as the admin's form and API do: unlabelled images, device feedback."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from labeling_helpers import add_users, ingest_images
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.records import Box, LabelRecord
from qiloop.labeling import jobs, tasks
from qiloop.labeling.api.progress import job_progress
from qiloop.labeling.job_sources import open_job
from qiloop.labeling.models import Job
from qiloop.labeling.workforce import find_user
from qiloop.labelstore import LabelStore
from qiloop.storage import ImageStore
from qiloop.storage.feedback import FeedbackEntry


@pytest.fixture
def stores(tmp_path):
    return ImageStore.from_url(str(tmp_path / "images")), LabelStore.from_url(str(tmp_path / "labels"))


def spec(name: str, **fields) -> jobs.JobSpec:
    return jobs.JobSpec.build(name=name, classes=["scratch"], annotators_per_image=1, **fields)


def test_unlabelled_images_go_to_one_job_only_and_the_limit_counts_free_ones(db, stores):
    images, labels = stores
    records = ingest_images(images, 5)
    first = open_job(db, images, labels, spec("first"), limit=2, created_by=None)
    assert first.images == 2 and first.name == "first"
    second = open_job(db, images, labels, spec("second"))
    assert second.images == 3  # the two the first job holds are left out
    with pytest.raises(NotFoundError, match="no image"):
        open_job(db, images, labels, spec("third"))
    with db.session() as session:
        held = jobs.queued_sha256s(session)
    assert held == {r.sha256 for r in records}


def test_feedback_images_bring_their_device_boxes_as_pre_labels(db, stores):
    images, labels = stores
    records = ingest_images(images, 3)
    seen = Box.from_xyxy(5, 5, 40, 12, score=0.41)
    now = datetime.now(timezone.utc)
    images.feedback.append(
        [
            FeedbackEntry(
                image_sha256=r.sha256, image_name="cam.png", device_id="dev-1", sequence=i,
                reason="uncertain", model_name="scratch", prelabels=[seen], sent_at=now,
            )
            for i, r in enumerate(records[1:])
        ]
    )  # fmt: skip
    approved = records[2]  # approved since it came back: not labelled again
    labels.append([LabelRecord(image_uri=approved.uri, image_sha256=approved.sha256, image_width=approved.width,
                               image_height=approved.height, image_depth=approved.depth, event_time=now)])  # fmt: skip
    summary = open_job(db, images, labels, spec("fb"), "feedback")
    assert summary.images == 1
    with db.session() as session:
        assert session.query(Job).filter_by(name="fb").one().prelabel_source == "feedback"
    add_users(db, "ann")
    task = tasks.next_task(db, "fb", "ann")
    assert task.image_sha256 == records[1].sha256 and task.prelabels == (seen,)


def test_an_unknown_source_or_a_taken_name_is_refused_with_a_hint(db, stores):
    images, labels = stores
    ingest_images(images, 2)
    with pytest.raises(ConfigurationError, match="unknown image source") as info:
        open_job(db, images, labels, spec("x"), "camera")
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
