"""One device message in, exactly one outcome out: stored, duplicate, invalid or failed."""

from __future__ import annotations

import hashlib

import pytest

from device_messages import png
from qiloop.core.records import Box
from qiloop.fleet.intake import Intake, prelabel_boxes, topic_problem
from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.messages import DetectedBox, DeviceStatus, InferenceResult
from qiloop.protocol.topics import RESULT_TOPIC
from qiloop.storage.image_store import ImageStore

STATUS = DeviceStatus(device_id="cam-1", sequence=1)
RESULT = InferenceResult(device_id="cam-1", sequence=2, image_name="a", model_name="m", verdict="pass", latency_ms=1)


@pytest.mark.parametrize(
    ("topic", "message", "problem"),
    [
        ("qiloop/devices/cam-1/status", STATUS, None),
        ("qiloop/devices/cam-2/status", STATUS, "topic names device 'cam-2'"),
        ("qiloop/devices/cam-1/feedback", STATUS, "a status message on the feedback topic"),
        (RESULT_TOPIC, RESULT, None),
        (RESULT_TOPIC, STATUS, "a status message on the results topic"),
        ("plant-7/line-2/results", RESULT, None),  # any other topic: the kind decides
    ],
)
def test_topic_problem(topic, message, problem):
    got = topic_problem(topic, message)
    assert (got is None) if problem is None else (problem in got)


def test_topic_problem_under_another_device_root():
    assert topic_problem("site/devs/cam-1/status", STATUS, device_root="site/devs") is None
    assert "cam-9" in topic_problem("site/devs/cam-9/status", STATUS, device_root="site/devs")


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((3, 4, 10, 6), Box(class_id=0, left=3, top=4, width=10, height=6, score=0.5)),
        ((-2, 1, 5, 5), Box(class_id=0, left=0, top=1, width=3, height=5, score=0.5)),  # clipped at the left edge
        ((-5, 1, 5, 5), None),  # nothing left inside the image
        ((1, 1, 0, 5), None),  # empty
    ],
)
def test_prelabel_boxes(box, expected):
    left, top, width, height = box
    detected = DetectedBox(class_id=0, class_name="scratch", score=0.5, left=left, top=top, width=width, height=height)
    assert prelabel_boxes([detected]) == ([] if expected is None else [expected])


@pytest.fixture
def intake(tmp_path):
    db = ResultsDB(tmp_path / "fleet.db")
    yield Intake(db, ImageStore.from_url(str(tmp_path / "images")))
    db.close()


def test_results_and_status_are_stored_once(intake, device):
    outcomes = [
        intake.handle(RESULT_TOPIC, device.result(1)),
        intake.handle(RESULT_TOPIC, device.result(1)),
        intake.handle("qiloop/devices/cam-1/status", device.status(2)),
        intake.handle("qiloop/devices/cam-1/status", device.status(2)),
    ]
    assert [(o.kind, o.status) for o in outcomes] == [
        ("result", "stored"), ("result", "duplicate"), ("status", "stored"), ("status", "duplicate")
    ]  # fmt: skip
    assert intake.db.counts() == {"results": 1, "status_reports": 1, "devices": 1, "feedback": 0}


@pytest.mark.parametrize(
    ("topic", "payload", "kind", "reason"),
    [
        (RESULT_TOPIC, b"\xff not json", "unknown", "not JSON"),
        (RESULT_TOPIC, b'{"kind": "result", "device_id": "cam-1"}', "unknown", "not a qiloop device message"),
        (RESULT_TOPIC, b'{"kind": "status", "device_id": "cam-1", "sequence": 1}', "status", "on the results topic"),
        (RESULT_TOPIC, b'{"kind": "status", "device_id": "cam-1"}', "status", "on the results topic"),
        ("qiloop/devices/cam-1/status", b'{"kind": "status", "device_id": "cam-1"}', "status", "no sequence"),
    ],
)
def test_unreadable_messages_are_invalid_and_store_nothing(intake, topic, payload, kind, reason):
    outcome = intake.handle(topic, payload)
    assert (outcome.kind, outcome.status) == (kind, "invalid") and reason in outcome.reason
    assert intake.db.counts() == {"results": 0, "status_reports": 0, "devices": 0, "feedback": 0}


def test_a_feedback_image_lands_in_the_store_with_its_prelabels(intake, device):
    data = png(1)
    sha = hashlib.sha256(data).hexdigest()
    topic = "qiloop/devices/cam-1/feedback"
    first, again = intake.handle(topic, device.feedback(5, data)), intake.handle(topic, device.feedback(5, data))
    assert (first.status, again.status) == ("stored", "duplicate")
    record = intake.store.get(sha)
    assert (record.source, record.original_name, record.width) == ("feedback:cam-1", "fb-5.png", 32)
    (entry,) = intake.store.feedback.for_image(sha)
    assert (entry.device_id, entry.sequence, entry.reason, entry.model_version) == ("cam-1", 5, "uncertain", "3")
    assert entry.prelabels == [Box(class_id=0, left=3, top=4, width=10, height=6, score=0.41),
                               Box(class_id=0, left=0, top=1, width=3, height=5, score=0.3)]  # fmt: skip
    assert intake.db.feedback_seen("cam-1", 5)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"b64": "this is not base64!"}, "not valid base64"),
        ({"data": b"hello, not an image"}, "not a JPEG, PNG, BMP, TIFF or WebP image"),
        ({"sha": "00" * 32}, "does not match its sha256"),
    ],
)
def test_bad_feedback_is_invalid_and_leaves_nothing_behind(intake, device, kwargs, reason):
    data = kwargs.pop("data", png(2))
    outcome = intake.handle("qiloop/devices/cam-1/feedback", device.feedback(6, data, **kwargs))
    assert (outcome.kind, outcome.status) == ("feedback", "invalid") and reason in outcome.reason, outcome
    assert len(intake.store) == 0 and intake.store.feedback.list() == []
    assert not intake.db.feedback_seen("cam-1", 6)
    # the next good message goes through
    assert intake.handle("qiloop/devices/cam-1/feedback", device.feedback(7, png(3))).status == "stored"
