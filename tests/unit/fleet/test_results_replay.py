"""A result replayed after the de-duplication window is refused, not stored twice.

The window keeps every ``(device_id, sequence)`` for exact de-duplication and out-of-order
arrivals; when keys are forgotten, each device's highest forgotten sequence stays as its floor.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.messages import DeviceStatus, InferenceResult

T0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


def result(device: str, sequence: int) -> InferenceResult:
    return InferenceResult(device_id=device, sequence=sequence, time=T0 + timedelta(seconds=sequence),
                           image_name=f"{device}-{sequence}.png", model_name="scratch-detector", model_version="1",
                           detections=[], verdict="pass", latency_ms=10.0)  # fmt: skip


def test_a_result_replayed_after_the_window_is_refused(tmp_path):
    now = datetime.now(timezone.utc)
    long_ago = now - timedelta(days=2)
    with ResultsDB(tmp_path / "fleet.db", dedupe_window_s=86_400, background=False) as db:
        assert db.add_result(result("cam-1", 10), received_at=long_ago)
        assert db.add_result(result("cam-1", 12), received_at=long_ago)
        assert db.add_result(result("cam-2", 5), received_at=long_ago)
        assert db.add_result(result("cam-1", 20), received_at=now)  # inside the window
        assert db.flush() == 4  # forgets the keys of two days ago
        assert not db.add_result(result("cam-1", 12))  # the replay, two days on
        assert not db.add_result(result("cam-1", 10))
        assert not db.add_result(result("cam-1", 11))  # below what was forgotten: refused as well
        assert not db.add_result(result("cam-2", 5))
        assert not db.add_result(result("cam-1", 20))  # still inside the window: an exact duplicate
        assert db.add_result(result("cam-1", 15))  # out of order, above the floor: stored once
        assert not db.add_result(result("cam-1", 15))
        assert db.add_result(result("cam-1", 21)) and db.add_result(result("cam-2", 6))
        assert db.add_result(result("cam-3", 1))  # another device has its own floor (none yet)
        db.flush()
        stored = sorted((r.message.device_id, r.message.sequence) for r in db.results(limit=0))
    assert stored == [("cam-1", 10), ("cam-1", 12), ("cam-1", 15), ("cam-1", 20), ("cam-1", 21),
                      ("cam-2", 5), ("cam-2", 6), ("cam-3", 1)]  # fmt: skip


def test_the_floor_survives_a_restart_and_is_kept_per_kind(tmp_path):
    long_ago = datetime.now(timezone.utc) - timedelta(days=2)
    with ResultsDB(tmp_path / "fleet.db", dedupe_window_s=60, background=False) as db:
        assert db.add_result(result("cam-1", 7), received_at=long_ago)
        db.flush()
    with ResultsDB(tmp_path / "fleet.db", dedupe_window_s=60, background=False) as db:
        assert not db.add_result(result("cam-1", 7))
        status = DeviceStatus(device_id="cam-1", sequence=7, time=T0)
        assert db.add_status(status)  # the floor is per kind: statuses have their own
    raw = sqlite3.connect(tmp_path / "fleet.db")
    try:
        assert raw.execute("SELECT kind, device_id, sequence FROM results_floor").fetchall() == [
            ("results", "cam-1", 7)
        ]
    finally:
        raw.close()
