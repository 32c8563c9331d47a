"""What the devices sent back: results and feedback since a moment, and which feedback still waits for labels."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from labeling_helpers import ingest_images
from qiloop.fleet.results_db import ResultsDB
from qiloop.loop.collect import collect_results, wait_for_results
from qiloop.protocol.messages import DetectedBox, InferenceResult
from qiloop.storage.feedback import FeedbackEntry

BOX = DetectedBox(class_id=0, class_name="scratch", score=0.9, left=1, top=2, width=3, height=4)


def result(device: str, sequence: int, verdict: str, version: str = "2", latency: float = 40.0) -> InferenceResult:
    return InferenceResult(
        device_id=device, sequence=sequence, image_name=f"img-{sequence}.jpg", model_name="scratch-detector",
        model_version=version, detections=[BOX] if verdict == "fail" else [], verdict=verdict, latency_ms=latency,
    )  # fmt: skip


def entry(record, device: str, sequence: int, reason: str, received_at: datetime) -> FeedbackEntry:
    return FeedbackEntry(
        image_sha256=record.sha256, image_name=record.original_name, device_id=device, sequence=sequence,
        reason=reason, model_name="scratch-detector", model_version="2", sent_at=received_at, received_at=received_at,
    )  # fmt: skip


def test_results_and_feedback_are_counted_since_a_moment(home, approve, tmp_path):
    earlier = datetime.now(timezone.utc) - timedelta(hours=1)
    records = ingest_images(home.images, 4)
    with ResultsDB(tmp_path / "results.db") as db:
        db.add_result(result("line-1", 1, "pass"), received_at=earlier)
        since = datetime.now(timezone.utc)
        db.add_result(result("line-1", 2, "fail", latency=30.0))
        db.add_result(result("line-2", 1, "pass", version="3", latency=50.0))
        db.add_result(result("line-2", 2, "fail", version="3", latency=40.0))
        home.images.feedback.append(
            [
                entry(records[0], "line-1", 1, "uncertain", earlier),
                entry(records[1], "line-1", 2, "uncertain", since + timedelta(seconds=1)),
                entry(records[2], "line-2", 1, "sample", since + timedelta(seconds=1)),
                entry(records[3], "line-2", 2, "uncertain", since + timedelta(seconds=1)),
            ]
        )
        approve(home.labels, [records[3]])  # already labelled: no longer waiting

        now = collect_results(db, home.images, home.labels, since=since)
        everything = collect_results(db, home.images)
        one = collect_results(db, home.images, home.labels, since=since, device="line-2")

    assert (now.results, now.failed, now.fail_rate) == (3, 2, 2 / 3)
    assert now.by_device == {"line-1": 1, "line-2": 2}
    assert now.by_model == {"scratch-detector/2": 1, "scratch-detector/3": 2}
    assert now.mean_latency_ms == 40.0
    assert now.feedback == 3 and now.feedback_by_reason == {"uncertain": 2, "sample": 1}
    assert now.feedback_waiting == 2
    assert (everything.results, everything.feedback, everything.feedback_waiting) == (4, 4, 4)
    assert (one.results, one.feedback, one.by_device) == (2, 2, {"line-2": 2})
    assert now.metadata() == {"results": 3, "failed": 2, "fail_rate": 0.6667, "mean_latency_ms": 40.0,
                              "feedback": 3, "feedback_waiting": 2}  # fmt: skip


def test_waiting_for_results_returns_when_enough_arrived_or_time_ran_out(tmp_path):
    with ResultsDB(tmp_path / "results.db") as db:
        db.add_result(result("line-1", 1, "pass"))
        assert wait_for_results(db, 1, timeout=5) == 1
        assert wait_for_results(db, 2, timeout=0.3) == 1
        later = datetime.now(timezone.utc) + timedelta(seconds=5)
        assert wait_for_results(db, 1, since=later, timeout=0.2) == 0
