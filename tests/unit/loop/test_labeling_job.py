"""Opening labelling jobs for what waits: unlabelled images, device feedback, and model pre-labels."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from labeling_helpers import ingest_images
from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box
from qiloop.labeling import boxes as box_json
from qiloop.labeling.models import Job, JobItem
from qiloop.loop.labeling_job import open_labeling_job, waiting_images
from qiloop.storage.feedback import FeedbackEntry

DEVICE_BOX = Box(class_id=0, left=5, top=5, width=30, height=20, score=0.4)


def items(db, job: str) -> dict[str, list[dict]]:
    with db.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.name == job))
        rows = session.scalars(select(JobItem).where(JobItem.job_id == job_id)).all()
        return {r.image_sha256: box_json.from_json(r.prelabels) for r in rows}


def feedback(store, records, boxes=(DEVICE_BOX,)) -> None:
    now = datetime.now(timezone.utc)
    store.feedback.append(
        [
            FeedbackEntry(
                image_sha256=r.sha256,
                image_name=r.original_name,
                device_id="line-1",
                sequence=i,
                reason="uncertain",
                model_name="scratch-detector",
                model_version="1",
                prelabels=list(boxes),
                sent_at=now,
            )
            for i, r in enumerate(records)
        ]
    )


def test_unlabelled_images_go_to_one_job_and_no_second(home, approve):
    records = ingest_images(home.images, 6)
    approve(home.labels, records[:2])

    opened = open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], name="first")

    assert opened is not None and opened.name == "first" and opened.source == "unlabeled"
    assert opened.images == 4 and opened.prelabel_source is None and opened.prelabelled == 0
    assert set(items(home.db, "first")) == {r.sha256 for r in records[2:]}
    # The images are queued in that job now: nothing waits, and a second job is not opened.
    assert waiting_images(home.db, home.images, home.labels)[0] == []
    assert open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], name="second") is None


def test_feedback_keeps_the_devices_boxes_and_skips_approved_and_queued_images(home, approve):
    approved, queued, fresh = (ingest_images(home.images, 2, first_seed=s) for s in (0, 10, 20))
    approve(home.labels, approved)
    open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], name="unlabelled", limit=2)
    assert set(items(home.db, "unlabelled")) == {r.sha256 for r in queued}
    feedback(home.images, [*approved, *queued, *fresh])

    opened = open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], source="feedback",
                               name="from-devices")  # fmt: skip

    assert opened.images == 2 and opened.prelabel_source == "feedback" and opened.prelabelled == 2
    shown = items(home.db, "from-devices")
    assert set(shown) == {r.sha256 for r in fresh}
    assert all(list(boxes) == [DEVICE_BOX] for boxes in shown.values()), shown


def test_model_prelabels_are_the_packages_detections(home, tiny_package, tmp_path):
    from qiloop.edge.runtime import OnnxDetector

    package = shutil.copytree(tiny_package, tmp_path / "package")
    records = ingest_images(home.images, 3, first_seed=30)
    detector = OnnxDetector.from_package(package, threads=1)
    expected = {r.sha256: detector.detect(home.images.read_bytes(r.sha256)).to_boxes() for r in records}

    opened = open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], name="pre",
                               prelabel_model=str(package))  # fmt: skip

    assert opened.prelabel_source == "model:test-detector/1"
    assert opened.prelabel_boxes == sum(len(b) for b in expected.values())
    shown = items(home.db, "pre")
    for sha, boxes in expected.items():
        assert [b.model_dump(exclude={"score"}) for b in shown[sha]] == [b.model_dump(exclude={"score"}) for b in boxes]
        assert [b.score for b in shown[sha]] == pytest.approx([b.score for b in boxes], abs=1e-4)


def test_production_prelabels_without_a_registry_or_a_production_model_are_none(home):
    ingest_images(home.images, 2, first_seed=40)
    opened = open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], prelabel_model="production")
    assert opened.prelabel_source is None and opened.name.startswith("unlabeled-")


def test_a_taken_name_and_a_model_of_other_classes_are_refused(home, tiny_package):
    ingest_images(home.images, 2, first_seed=50)
    with pytest.raises(ConfigurationError, match="none of which the job labels"):
        open_labeling_job(home.db, home.images, home.labels, classes=["dent"], prelabel_model=str(tiny_package))
    open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], name="taken", limit=1)
    with pytest.raises(ConfigurationError, match="already exists"):
        open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], name="taken")


def test_named_images_and_the_jobs_terms_reach_the_job(home):
    from qiloop.labeling import jobs

    records = ingest_images(home.images, 4, first_seed=60)
    opened = open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], source="named",
                               named=[r.sha256[:16] for r in records[1:3]], name="chosen", annotators=2, quorum=2,
                               min_support=None, lease_seconds=60, prelabel_model=None)  # fmt: skip
    assert opened.source == "named" and opened.images == 2 and opened.summary.annotators_per_image == 2
    assert set(items(home.db, "chosen")) == {r.sha256 for r in records[1:3]}
    with home.db.session() as session:
        job = jobs.get_job(session, "chosen")
        assert (job.quorum, job.min_support, job.lease_seconds) == (2, None, 60)


def test_a_registry_factory_is_built_when_production_pre_labels_are_asked_for(home):
    from qiloop.registry import ModelRegistry

    ingest_images(home.images, 1, first_seed=70)
    built = []

    def registry():
        built.append(ModelRegistry.from_settings(home.settings))
        return built[-1]

    assert open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], registry=registry,
                             prelabel_model=None, name="no-model").prelabel_source is None  # fmt: skip
    assert built == []  # no model asked for: the registry is never built
    ingest_images(home.images, 1, first_seed=71)
    opened = open_labeling_job(home.db, home.images, home.labels, classes=["scratch"], registry=registry)
    assert len(built) == 1 and opened.prelabel_source is None  # nothing is in production yet
