"""The device wire format: typed messages, the reference fields, parsing and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qiloop.core.detections import Detections
from qiloop.core.errors import InvalidRecordError
from qiloop.edge.inference.outbox import encode_payload
from qiloop.protocol.messages import (
    DetectedBox,
    DeviceStatus,
    FeedbackImage,
    InferenceResult,
    parse_message,
    reference_results,
)
from qiloop.protocol.topics import feedback_topic, status_topic


def _boxes() -> list[DetectedBox]:
    det = Detections(np.array([[10.0, 20.0, 50.0, 30.0], [0.0, 0.0, 4.0, 8.0]]), np.array([0.9, 0.3]), np.array([0, 1]))
    return DetectedBox.from_detections(det, ["scratch"])


def test_boxes_keep_corner_size_and_name_unknown_classes_by_id():
    a, b = _boxes()
    assert (a.left, a.top, a.width, a.height, a.class_name) == (10.0, 20.0, 40.0, 10.0, "scratch")
    assert b.class_name == "1"


def test_result_body_carries_the_reference_fields():
    result = InferenceResult(
        device_id="d1", image_name="tag.jpg", model_name="m", detections=_boxes(), verdict="fail", latency_ms=12.5
    )
    body = result.body()
    assert body["image_name"] == "tag.jpg" and body["kind"] == "result"
    assert body["timestamp"].endswith("+00:00")
    scores, boxes = body["inference_results"][0]
    assert scores == [[0.9, 0.3]]
    assert boxes[0][0] == [30.0, 25.0, 40.0, 10.0]  # centre x, centre y, width, height
    assert "sequence" not in body


def test_no_detections_give_an_empty_reference_list():
    assert reference_results([]) == []


@pytest.mark.parametrize(
    "message",
    [
        InferenceResult(device_id="d", image_name="a.jpg", model_name="m", verdict="pass", latency_ms=1),
        DeviceStatus(device_id="d", images_processed=3, defects=1, defect_rate=1 / 3),
        FeedbackImage(
            device_id="d", reason="uncertain", image_name="a.jpg", image_sha256="0" * 64, model_name="m",
            image_b64=FeedbackImage.encode_image(b"\xff\xd8bytes"),
        ),
    ],
)  # fmt: skip
def test_round_trip_through_the_outbox_encoding(message):
    parsed = parse_message(encode_payload(message.body(), "d", 7))
    assert type(parsed) is type(message)
    assert parsed.sequence == 7
    assert parsed.model_dump(exclude={"sequence"}) == message.model_dump(exclude={"sequence"})


def test_feedback_image_bytes_round_trip_and_bad_base64_is_refused():
    good = FeedbackImage(
        device_id="d", reason="sample", image_name="a.jpg", image_sha256="0" * 64, model_name="m",
        image_b64=FeedbackImage.encode_image(b"abc"),
    )  # fmt: skip
    assert good.image_bytes() == b"abc"
    bad = good.model_copy(update={"image_b64": "not base64!"})
    with pytest.raises(InvalidRecordError, match="base64"):
        bad.image_bytes()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"kind": "telemetry", "device_id": "d"}).encode(), "kind"),
        (json.dumps({"kind": "result", "device_id": "d"}).encode(), "image_name"),
    ],
)
def test_bad_payloads_say_what_is_wrong(payload, match):
    with pytest.raises(InvalidRecordError, match=match):
        parse_message(payload)


def test_topics_are_per_device():
    assert status_topic("cam-7") == "qiloop/devices/cam-7/status"
    assert feedback_topic("cam-7") == "qiloop/devices/cam-7/feedback"
