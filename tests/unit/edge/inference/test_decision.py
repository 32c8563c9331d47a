"""One image's outcome as a pure function: detections → verdict, feedback, messages to store."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import numpy as np
import pytest

from qiloop.core.detections import Detections
from qiloop.core.package import ModelManifest, PackageFile, Thresholds
from qiloop.edge.inference.config import AppConfig
from qiloop.edge.inference.decision import Rules, decide
from qiloop.edge.inference.feedback import FeedbackPolicy
from qiloop.protocol.messages import parse_message
from qiloop.protocol.topics import RESULT_TOPIC

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
IMAGE = b"\x89PNG pretend image bytes"
SHA = hashlib.sha256(IMAGE).hexdigest()
BAND = FeedbackPolicy(uncertain_low=0.25, uncertain_high=0.5)


def _rules(confidence=0.25, defect=0.5, feedback=BAND, classes=("scratch", "dent")) -> Rules:
    return Rules(device_id="cam-1", results_topic=RESULT_TOPIC, model_name="detector", model_version="7",
                 classes=classes, confidence=confidence, defect=defect, feedback=feedback)  # fmt: skip


def _found(*detections: tuple[float, int]) -> Detections:
    """Detections of (score, class id), each a 10×10 box at its index."""
    xyxy = np.array([[10 * i, 0, 10 * i + 10, 10] for i in range(len(detections))], dtype=float).reshape(-1, 4)
    return Detections(xyxy, [s for s, _ in detections], [c for _, c in detections])


ROWS = [
    # (name, rules, found, verdict, scores in the result, feedback reason)
    ("nothing found", _rules(), _found(), "pass", [], None),
    ("nothing found, no_detection asked", _rules(feedback=BAND.model_copy(update={"no_detection": True})), _found(),
     "pass", [], "no_detection"),
    ("a confident defect", _rules(), _found((0.9, 0)), "fail", [0.9], None),
    ("a defect exactly at the defect threshold", _rules(), _found((0.5, 1)), "fail", [0.5], None),
    ("counted, below the defect threshold, uncertain", _rules(), _found((0.3, 0)), "pass", [0.3], "uncertain"),
    ("exactly at the confidence", _rules(feedback=FeedbackPolicy(enabled=False)), _found((0.25, 0)), "pass",
     [0.25], None),
    ("below the confidence: feedback sees it, the result does not", _rules(confidence=0.4), _found((0.3, 0)),
     "pass", [], "uncertain"),
    ("the top score decides feedback", _rules(), _found((0.9, 0), (0.3, 1)), "fail", [0.9, 0.3], None),
    ("the band's upper end is confident", _rules(defect=0.6), _found((0.5, 0)), "pass", [0.5], None),
    ("a sample of the confident ones", _rules(feedback=BAND.model_copy(update={"sample_rate": 1.0})),
     _found((0.95, 0)), "fail", [0.95], "sample"),
    ("feedback off", _rules(feedback=FeedbackPolicy(enabled=False, sample_rate=1.0)), _found((0.3, 0)), "pass",
     [0.3], None),
    ("a defect threshold below the confidence counts only kept boxes", _rules(confidence=0.6, defect=0.2),
     _found((0.55, 0)), "pass", [], None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "found", "verdict", "scores", "reason"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_decide(rules, found, verdict, scores, reason):
    decision = decide(rules, found, name="part-001.png", data=IMAGE, latency_ms=12.34567, now=NOW)
    assert decision.result.verdict == verdict and decision.defect == (verdict == "fail")
    assert [b.score for b in decision.result.detections] == scores
    assert decision.feedback == reason

    kinds = ["result"] + (["feedback"] if reason else [])
    assert [m.kind for m in decision.messages] == kinds
    assert [m.key for m in decision.messages] == [f"{k}:part-001.png:{SHA}" for k in kinds]
    assert [m.topic for m in decision.messages] == [RESULT_TOPIC] + (
        ["qiloop/devices/cam-1/feedback"] if reason else []
    )
    result = parse_message(_wire(decision.messages[0].body))
    assert result == decision.result.model_copy(update={"sequence": 1})
    assert (result.image_sha256, result.latency_ms, result.time) == (SHA, 12.346, NOW)
    if reason:
        feedback = parse_message(_wire(decision.messages[1].body))
        assert feedback.reason == reason and feedback.image_bytes() == IMAGE and feedback.time == NOW
        assert [b.score for b in feedback.prelabels] == found.scores.tolist()  # every score found, as pre-labels


def _wire(body: dict) -> bytes:
    """A stored body as the outbox sends it (with device id and sequence)."""
    return json.dumps({**body, "sequence": 1}).encode()


def test_the_same_image_decides_the_same_way():
    rules = _rules(feedback=BAND.model_copy(update={"sample_rate": 0.5}))
    found = _found((0.9, 0))
    first = decide(rules, found, name="a.png", data=IMAGE, latency_ms=1, now=NOW)
    assert decide(rules, found, name="a.png", data=IMAGE, latency_ms=1, now=NOW) == first
    picked = {decide(rules, found, name="a.png", data=bytes([i]), latency_ms=1, now=NOW).feedback for i in range(64)}
    assert picked == {"sample", None}  # the sample depends on the image, not on the order


def test_class_names_come_from_the_rules_and_unknown_ids_keep_their_number():
    decision = decide(_rules(classes=("scratch",)), _found((0.9, 0), (0.8, 3)), name="a", data=IMAGE, latency_ms=1,
                      now=NOW)  # fmt: skip
    assert [(b.class_id, b.class_name) for b in decision.result.detections] == [(0, "scratch"), (3, "3")]


@pytest.mark.parametrize(
    ("overrides", "confidence", "defect", "floor"),
    [
        ({}, 0.3, 0.7, 0.25),  # the manifest's thresholds; detect down to the uncertain band
        ({"confidence": 0.1, "defect": 0.2}, 0.1, 0.2, 0.1),  # the configuration overrides them
        ({"feedback": {"enabled": False}}, 0.3, 0.7, 0.3),  # no feedback: no need to detect lower
        ({"feedback": {"uncertain_low": 0.4, "uncertain_high": 0.6}}, 0.3, 0.7, 0.3),
    ],
)
def test_rules_of_a_run(tmp_path, overrides, confidence, defect, floor):
    config = AppConfig(package=tmp_path, device_id="cam-1", source={"type": "files", "paths": [tmp_path]}, **overrides)
    manifest = ModelManifest(
        name="detector", version="7", classes=["scratch"], input_width=64, input_height=64,
        thresholds=Thresholds(confidence=0.3, defect=0.7), files={"model.onnx": PackageFile(sha256="0" * 64, size=1)},
    )  # fmt: skip
    rules = Rules.of(config, manifest)
    assert (rules.confidence, rules.defect, rules.detect_floor) == (confidence, defect, floor)
    assert (rules.model_name, rules.model_version, rules.classes, rules.device_id) == (
        "detector", "7", ("scratch",), "cam-1",
    )  # fmt: skip


def test_per_class_operating_point_from_the_manifest_and_one_confidence_from_the_configuration(tmp_path):
    manifest = ModelManifest(
        name="detector", version="7", classes=["scratch", "dent"], input_width=64, input_height=64,
        thresholds=Thresholds(confidence=0.2, class_confidence={"scratch": 0.6, "dent": 0.2}, defect=0.2),
        files={"model.onnx": PackageFile(sha256="0" * 64, size=1)},
    )  # fmt: skip
    source = {"type": "files", "paths": [tmp_path]}
    rules = Rules.of(AppConfig(package=tmp_path, device_id="cam-1", source=source), manifest)
    assert rules.class_confidence == {0: 0.6, 1: 0.2} and rules.confidence == 0.2
    found = _found((0.5, 0), (0.3, 1))  # a scratch below its point, a dent above its own
    decision = decide(rules, found, name="a", data=IMAGE, latency_ms=1, now=NOW)
    assert [(b.class_name, b.score) for b in decision.result.detections] == [("dent", 0.3)]
    override = Rules.of(AppConfig(package=tmp_path, device_id="cam-1", source=source, confidence=0.25), manifest)
    assert override.class_confidence is None
    both = decide(override, found, name="a", data=IMAGE, latency_ms=1, now=NOW)
    assert sorted(b.class_name for b in both.result.detections) == ["dent", "scratch"]
