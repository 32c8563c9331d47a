"""The fleet database: results, status and feedback kept once per (device_id, sequence), durably."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.messages import DetectedBox, DeviceStatus, FeedbackImage, InferenceResult

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
BOX = DetectedBox(class_id=0, class_name="scratch", score=0.9, left=1, top=2, width=3, height=4)


def result(device: str, sequence: int, seconds: int = 0, verdict: str = "fail") -> InferenceResult:
    return InferenceResult(
        device_id=device, sequence=sequence, time=T0 + timedelta(seconds=seconds), image_name=f"img-{sequence}.jpg",
        model_name="scratch-detector", model_version="2", detections=[BOX] if verdict == "fail" else [],
        verdict=verdict, latency_ms=41.5,
    )  # fmt: skip


def status(device: str, sequence: int, seconds: int, state: str = "running") -> DeviceStatus:
    return DeviceStatus(device_id=device, sequence=sequence, time=T0 + timedelta(seconds=seconds), state=state)


def test_a_result_is_stored_once_and_survives_a_reopen(tmp_path):
    with ResultsDB(tmp_path / "fleet.db") as db:
        assert db.add_result(result("cam-1", 1)) is True
        assert db.add_result(result("cam-1", 1, seconds=99, verdict="pass")) is False  # same (device, sequence)
        assert db.add_result(result("cam-2", 1)) is True  # sequences are per device
    with ResultsDB(tmp_path / "fleet.db") as db:
        assert db.add_result(result("cam-1", 1)) is False
        stored = db.results(limit=0)
        assert db.counts()["results"] == 2
    first = next(r.message for r in stored if r.message.device_id == "cam-1")
    assert first == result("cam-1", 1)  # the first delivery wins, every field kept
    assert first.detections == [BOX]


def test_results_are_listed_newest_first_by_device_time_with_filter_and_limit(tmp_path):
    with ResultsDB(tmp_path / "fleet.db") as db:
        for seq, seconds in [(1, 10), (2, 30), (3, 20)]:
            db.add_result(result("cam-1", seq, seconds))
        db.add_result(result("cam-2", 1, 25))
        assert [r.message.sequence for r in db.results("cam-1")] == [2, 3, 1]
        newest_two = [(r.message.device_id, r.message.sequence) for r in db.results(limit=2)]
        assert newest_two == [("cam-1", 2), ("cam-2", 1)]
        assert db.results("cam-9") == []


def test_status_keeps_every_report_and_the_newest_by_device_time(tmp_path):
    with ResultsDB(tmp_path / "fleet.db") as db:
        assert db.add_status(status("cam-1", 5, 50)) is True
        assert db.add_status(status("cam-1", 3, 30, "starting")) is True  # late delivery of an older report
        assert db.add_status(status("cam-1", 5, 50)) is False
        assert db.add_status(status("cam-2", 1, 10, "stopped")) is True
        latest = db.latest_status()
        assert {d: (s.sequence, s.state) for d, s in latest.items()} == {
            "cam-1": (5, "running"),
            "cam-2": (1, "stopped"),
        }
        assert [s.sequence for s in db.status_reports("cam-1")] == [3, 5]
        db.add_status(status("cam-1", 6, 60, "stopping"))
        assert db.latest_status()["cam-1"].state == "stopping"
        assert db.counts() == {"results": 0, "status_reports": 4, "devices": 2, "feedback": 0}


def test_feedback_is_marked_seen_once(tmp_path):
    fb = FeedbackImage(device_id="cam-1", sequence=4, reason="uncertain", image_name="a.png", image_sha256="ab" * 32,
                       model_name="m", image_b64="aGVsbG8=")  # fmt: skip
    with ResultsDB(tmp_path / "fleet.db") as db:
        assert not db.feedback_seen("cam-1", 4)
        assert db.mark_feedback(fb, "ab" * 32) is True
        assert db.mark_feedback(fb, "ab" * 32) is False
        assert db.feedback_seen("cam-1", 4) and not db.feedback_seen("cam-2", 4)
