"""A model's predictions as pre-labels: ``qiloop labeling jobs create --prelabel-model`` to the worker's task.

A real YOLOv8 package (tests/onnx_models.py) registered in a real MLflow
registry, a real labelling service over HTTP; the expected boxes are the edge
runtime's own detections with the manifest's thresholds, which differ from the
runtime's defaults so that using the defaults fails the test.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from labeling_helpers import ingest_images
from labeling_web_helpers import running_service
from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box, LabelRecord
from qiloop.labeling import boxes as box_json
from qiloop.labeling import prelabel, tasks
from qiloop.labeling.goldset import add_gold
from qiloop.labeling.models import Job
from qiloop.storage.feedback import FeedbackEntry

pytestmark = pytest.mark.slow

THRESHOLDS = {"confidence": 0.1, "iou": 0.45, "max_detections": 4}  # the runtime's defaults: 0.25, 0.45, 300
DEVICE_BOX = Box.from_xyxy(5, 5, 40, 30, score=0.6)


@pytest.fixture(scope="module")
def package(tmp_path_factory, yolo_package):
    import shutil

    from qiloop.core.package import write_manifest

    package = shutil.copytree(yolo_package, tmp_path_factory.mktemp("model") / "package")  # the copy gets thresholds
    write_manifest(package, name="test-detector", version="1", classes=["scratch"], input_height=64, input_width=96,
                   thresholds=THRESHOLDS)  # fmt: skip
    return package


@pytest.fixture(scope="module")
def detector(package):
    from qiloop.edge.runtime import OnnxDetector

    return OnnxDetector.from_package(package, threads=1)


def expected(detector, store, sha256: str) -> list[dict]:
    return box_json.to_json(detector.detect(store.read_bytes(sha256)).to_boxes(), keep_score=True)


def add_gold_images(service, count: int, first_seed: int) -> list[str]:
    records = ingest_images(service.images, count, first_seed=first_seed)
    labels = [
        LabelRecord(
            image_uri=r.uri, image_sha256=r.sha256, image_width=r.width, image_height=r.height, image_depth=3,
            event_time=datetime.now(timezone.utc), annotations=(Box.from_xyxy(1, 1, 20, 20),),
        )
        for r in records
    ]  # fmt: skip
    with service.db.session() as session:
        add_gold(session, labels)
    return [r.sha256 for r in records]


def take_all(service, job: str, user: str) -> dict[str, list[dict]]:
    """Lease and submit every task ``user`` gets over HTTP; the pre-labels shown, by image sha256."""
    seen: dict[str, list[dict]] = {}
    with service.api(user) as client:
        while (response := client.post(f"/api/v1/jobs/{job}/tasks/next")).status_code == 200:
            task = response.json()
            seen[task["image_sha256"]] = task["prelabels"]
            assert client.post(f"/api/v1/tasks/{task['id']}/submit", json={"boxes": []}).status_code == 200
        assert response.status_code == 204, response.text
    return seen


def create(service, *args: str) -> int:
    return main(["labeling", "jobs", "create", *args, "--home", str(service.settings.home), "--json"])


def test_a_registered_model_pre_labels_the_jobs_images_and_its_gold_images(tmp_path, package, detector, capsys):
    from qiloop.registry import ModelRegistry

    with running_service(tmp_path, images=3, job=None) as service:
        registry = ModelRegistry.from_settings(service.settings)
        with registry.start_candidate_run("scratch-detector") as run:
            registry.register(run, package, approval="Approved")
        gold = add_gold_images(service, 2, first_seed=100)

        args = ["pl-1", "--prelabel-model", "scratch-detector@production", "--gold-every", "2", "--annotators", "2"]
        assert create(service, *args) == 0, capsys.readouterr().err
        late_gold = add_gold_images(service, 1, first_seed=200)  # added after the job: not pre-labelled for it

        with service.db.session() as session:
            source = session.scalar(select(Job.prelabel_source).where(Job.name == "pl-1"))
        assert source == "model:scratch-detector/1"  # a registered version is named by the registry
        seen = take_all(service, "pl-1", "alice")
        images = [r.sha256 for r in service.records]
        assert set(seen) == {*images, *gold}  # the late gold image would be the one task without pre-labels
        for sha256 in [*images, *gold]:
            assert seen[sha256] == expected(detector, service.images, sha256)
            boxes = box_json.from_json(seen[sha256])
            assert 1 <= len(boxes) <= THRESHOLDS["max_detections"]
            assert all(b.score >= THRESHOLDS["confidence"] for b in boxes)
            defaults = detector.detect(service.images.read_bytes(sha256), confidence=0.25, max_detections=300)
            assert len(defaults) != len(boxes)  # the manifest's thresholds, not the runtime's defaults

        # The Python API shows a gold task's pre-labels too.
        views = []
        while (view := tasks.next_task(service.db, "pl-1", "bob")) is not None:
            views.append(view)
            tasks.submit(service.db, view.id, "bob", [])
        gold_views = [v for v in views if v.image_sha256 in gold]
        assert gold_views and all(box_json.to_json(v.prelabels, keep_score=True) == seen[v.image_sha256]
                                  for v in gold_views)  # fmt: skip
        assert late_gold[0] not in {v.image_sha256 for v in views}


@contextmanager
def feedback_service(tmp_path, count: int):
    """A service whose first ``count`` images came back from a device with :data:`DEVICE_BOX`, and one gold image."""
    with running_service(tmp_path, images=count + 1, job=None) as service:
        gold = add_gold_images(service, 1, first_seed=100)
        entries = [
            FeedbackEntry(
                image_sha256=r.sha256, image_name=f"{r.sha256[:8]}.png", device_id="cam-1", sequence=i,
                reason="uncertain", model_name="scratch-detector", model_version="1", prelabels=[DEVICE_BOX],
                sent_at=datetime.now(timezone.utc),
            )
            for i, r in enumerate(service.records[:count])
        ]  # fmt: skip
        service.images.feedback.append(entries)
        yield service, gold[0], [e.image_sha256 for e in entries]


def test_a_feedback_job_keeps_the_device_boxes_and_its_gold_image_gets_the_models(tmp_path, package, detector):
    with feedback_service(tmp_path, 2) as (service, gold, feedback):
        args = ["fb-model", "--from", "feedback", "--prelabel-model", str(package), "--gold-every", "2"]
        assert create(service, *args, "--annotators", "1") == 0
        seen = take_all(service, "fb-model", "alice")
        device = box_json.to_json([DEVICE_BOX], keep_score=True)
        assert seen == {**dict.fromkeys(feedback, device), gold: expected(detector, service.images, gold)}
        assert seen[gold] != []
        with service.db.session() as session:
            source = session.scalar(select(Job.prelabel_source).where(Job.name == "fb-model"))
        assert source == "feedback,model:test-detector/1"  # a folder is named by its manifest


def test_without_a_model_a_feedback_jobs_gold_image_shows_no_pre_labels(tmp_path):
    with feedback_service(tmp_path, 2) as (service, gold, feedback):
        assert create(service, "fb-plain", "--from", "feedback", "--gold-every", "2", "--annotators", "1") == 0
        seen = take_all(service, "fb-plain", "bob")
        device = box_json.to_json([DEVICE_BOX], keep_score=True)
        assert seen == {**dict.fromkeys(feedback, device), gold: []}  # the trade-off the help text states


def test_a_model_of_other_classes_or_a_missing_reference_is_refused(tmp_path, package, capsys):
    with running_service(tmp_path, images=2, job=None) as service:
        code = create(service, "pl-x", "--prelabel-model", str(package), "--class", "dent")
        assert code == ConfigurationError.exit_code
        assert "none of which the job labels" in " ".join(capsys.readouterr().err.split())
        code = create(service, "pl-y", "--prelabel-model", str(tmp_path))
        assert code == 5 and "not a model package folder" in " ".join(capsys.readouterr().err.split())
        with service.db.session() as session:
            assert session.scalar(select(Job.id)) is None  # nothing half-made


def test_class_mapping_keeps_the_jobs_classes_by_name():
    boxes = [Box.from_xyxy(0, 0, 5, 5, class_id=0), Box.from_xyxy(1, 1, 6, 6, class_id=1)]
    mapping = prelabel.class_map(["dent", "scratch"], ["scratch", "dent", "crack"])
    assert [b.class_id for b in prelabel.remap(boxes, mapping)] == [1, 0]
    assert prelabel.remap(boxes, prelabel.class_map(["dent", "scratch"], ["scratch"])) == [
        boxes[1].model_copy(update={"class_id": 0})
    ]
