"""The results journal and its Delta tables: batches, crash safety, migration, and the console's queries."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest
from deltalake import DeltaTable

from qiloop.fleet.results_db import ResultsDB
from qiloop.fleet.results_query import Cursor, ResultFilter
from qiloop.fleet.results_schema import result_row, to_table
from qiloop.fleet.results_store import ResultsStore
from qiloop.protocol.messages import DetectedBox, DeviceStatus, InferenceResult

T0 = datetime(2024, 5, 1, 23, 59, 0, tzinfo=timezone.utc)  # results cross midnight: two day partitions


def result(device: str, seq: int, seconds: float, *, verdict: str = "pass", version: str = "2", score: float = 0.9,
           latency: float = 40.0) -> InferenceResult:  # fmt: skip
    boxes = [DetectedBox(class_id=0, class_name="scratch", score=score, left=1, top=2, width=3, height=4)]
    return InferenceResult(
        device_id=device, sequence=seq, time=T0 + timedelta(seconds=seconds), image_name=f"{device}-{seq}.png",
        model_name="scratch-detector", model_version=version, detections=boxes if verdict == "fail" else [],
        verdict=verdict, latency_ms=latency,
    )  # fmt: skip


def status(device: str, seq: int, seconds: float, depth: int = 0, dropped: int = 0) -> DeviceStatus:
    return DeviceStatus(device_id=device, sequence=seq, time=T0 + timedelta(seconds=seconds), outbox_depth=depth,
                        outbox_dropped=dropped)  # fmt: skip


def commits(url: str) -> list[dict]:
    return [e for e in DeltaTable(url).history() if e.get("operation") == "WRITE"]


def test_results_go_to_the_delta_table_one_commit_per_batch_partitioned_by_day(tmp_path):
    db = ResultsDB(tmp_path / "fleet.db", batch_size=4, background=False)
    for seq in range(10):
        assert db.add_result(result("cam-1", seq, seq * 15)) is True
    assert db.pending() == 10  # handled (journalled) before any commit
    assert db.flush() == 10
    assert db.pending() == 0
    table_url = str(tmp_path / "fleet-results" / "results")
    assert [int(c["operationMetrics"]["num_added_rows"]) for c in reversed(commits(table_url))] == [4, 4, 2]
    days = {p["day"] for p in DeltaTable(table_url).partitions()}
    assert days == {"2024-05-01", "2024-05-02"}
    assert db.days() == ["2024-05-01", "2024-05-02"]
    stored = pl.read_delta(table_url)
    assert sorted(stored["sequence"].to_list()) == list(range(10))
    db.close()


def test_size_bound_wakes_the_flusher_and_close_flushes_the_rest(tmp_path):
    db = ResultsDB(tmp_path / "fleet.db", batch_size=5, flush_interval_s=3600)
    for seq in range(5):
        db.add_result(result("cam-1", seq, seq))
    deadline = time.monotonic() + 20
    while db.pending() and time.monotonic() < deadline:  # 5 reached: committed without waiting an hour
        time.sleep(0.02)
    assert db.pending() == 0
    db.add_result(result("cam-1", 5, 5))
    db.add_result(result("cam-1", 6, 6))
    time.sleep(0.5)
    assert db.pending() == 2  # below the size bound, within the time bound: they wait
    db.close()  # and are committed on stop
    with ResultsDB(tmp_path / "fleet.db") as again:
        assert again.pending() == 0
        assert again.counts()["results"] == 7
    assert len(commits(str(tmp_path / "fleet-results" / "results"))) == 2


def test_time_bound_commits_a_small_batch(tmp_path):
    db = ResultsDB(tmp_path / "fleet.db", batch_size=1000, flush_interval_s=0.2)
    db.add_result(result("cam-1", 1, 0))
    deadline = time.monotonic() + 20
    while db.pending() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert db.pending() == 0
    assert len(commits(str(tmp_path / "fleet-results" / "results"))) == 1
    db.close()


def test_unflushed_rows_are_read_with_the_table(tmp_path):
    with ResultsDB(tmp_path / "fleet.db", background=False) as db:
        db.add_result(result("cam-1", 1, 0))
        db.flush()
        db.add_result(result("cam-1", 2, 10))
        assert db.pending() == 1
        assert [r.message.sequence for r in db.results()] == [2, 1]
        reader = ResultsDB(tmp_path / "fleet.db")  # another process's view: table plus journal
        assert [r.message.sequence for r in reader.results()] == [2, 1]
        reader.close()


def test_a_crash_between_commit_and_journal_cleanup_writes_nothing_twice(tmp_path):
    db = ResultsDB(tmp_path / "fleet.db", background=False)
    for seq in range(3):
        db.add_result(result("cam-1", seq, seq))
    # What a crash leaves: the batch committed with its journal mark, the journal rows still there.
    raw = sqlite3.connect(tmp_path / "fleet.db")
    rows = raw.execute("SELECT id, received_at, payload FROM results_journal ORDER BY id").fetchall()
    raw.close()
    batch = [result_row(InferenceResult.model_validate_json(p), datetime.fromisoformat(r)) for _, r, p in rows]
    db.store.append("results", to_table("results", batch), journal=db.journal_id, upto=rows[-1][0])
    assert db.pending() == 3
    assert len(db.results(limit=0)) == 3  # readers already skip the committed journal rows
    db.add_result(result("cam-1", 3, 3))
    db.close()
    stored = pl.read_delta(str(tmp_path / "fleet-results" / "results"))
    assert sorted(stored["sequence"].to_list()) == [0, 1, 2, 3]


def test_a_failing_table_keeps_the_rows_in_the_journal(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the tables should go")
    db = ResultsDB(tmp_path / "fleet.db", ResultsStore(str(blocker)), background=False)
    db.add_result(result("cam-1", 1, 0))
    with pytest.raises(Exception, match="fleet results table"):
        db.flush()
    assert db.pending() == 1
    db.close()  # logs and keeps the row
    raw = sqlite3.connect(tmp_path / "fleet.db")
    assert raw.execute("SELECT COUNT(*) FROM results_journal").fetchone()[0] == 1
    raw.close()


def test_duplicates_are_dropped_within_the_window_and_below_the_floor_after(tmp_path):
    now = datetime.now(timezone.utc)
    with ResultsDB(tmp_path / "fleet.db", dedupe_window_s=60, background=False) as db:
        assert db.add_result(result("cam-1", 1, 0), received_at=now - timedelta(seconds=120))
        assert not db.add_result(result("cam-1", 1, 0))
        db.flush()  # forgets keys older than the window; the device's floor keeps refusing them
        assert not db.add_result(result("cam-1", 1, 0))
        assert db.add_result(result("cam-1", 2, 0))


def test_an_older_one_file_fleet_db_moves_into_the_journal(tmp_path):
    raw = sqlite3.connect(tmp_path / "fleet.db")
    raw.executescript("""
        CREATE TABLE results (device_id TEXT, sequence INTEGER, time TEXT, received_at TEXT, image_name TEXT,
            image_sha256 TEXT, model_name TEXT, model_version TEXT, verdict TEXT, n_detections INTEGER,
            latency_ms REAL, payload TEXT, PRIMARY KEY (device_id, sequence));
        CREATE TABLE status_reports (device_id TEXT, sequence INTEGER, time TEXT, received_at TEXT, state TEXT,
            payload TEXT, PRIMARY KEY (device_id, sequence));
    """)
    old = result("cam-1", 7, 0)
    raw.execute("INSERT INTO results VALUES (?, ?, ?, ?, '', '', '', '', '', 0, 0, ?)",
                ("cam-1", 7, old.time.isoformat(), T0.isoformat(), old.model_dump_json()))  # fmt: skip
    raw.commit()
    raw.close()
    with ResultsDB(tmp_path / "fleet.db") as db:
        assert [r.message for r in db.results()] == [old]
        assert db.add_result(old) is False  # its key came along
        assert db.flush() == 1
    with ResultsDB(tmp_path / "fleet.db") as db:
        assert db.pending() == 0 and db.counts()["results"] == 1


def test_pages_filter_by_device_verdict_version_and_time_and_follow_a_cursor(tmp_path):
    with ResultsDB(tmp_path / "fleet.db", batch_size=7, background=False) as db:
        for seq in range(30):
            device = f"cam-{seq % 3}"
            db.add_result(result(device, seq, seq * 10, verdict="fail" if seq % 4 == 0 else "pass",
                                 version="3" if seq >= 20 else "2"))  # fmt: skip
        db.flush()
        db.add_result(result("cam-0", 99, 400))  # still in the journal
        everything = db.page(ResultFilter(), limit=0).rows
        assert everything["sequence"].to_list() == [99, *range(29, -1, -1)]
        seen, cursor = [], None
        while True:
            page = db.page(ResultFilter(devices=("cam-1",)), limit=4, after=cursor)
            seen += page.rows["sequence"].to_list()
            cursor = page.next
            if cursor is None:
                break
            cursor = Cursor.decode(cursor.encode())  # as a link would carry it
        assert seen == [s for s in range(29, -1, -1) if s % 3 == 1]
        fails = db.results(verdict="fail", limit=0)
        assert [r.message.sequence for r in fails] == [28, 24, 20, 16, 12, 8, 4, 0]
        assert all(r.message.model_version == "3" for r in db.results(model_version="3", limit=0))
        assert len(db.results(model_version="3", limit=0)) == 10
        window = db.results(since=T0 + timedelta(seconds=50), until=T0 + timedelta(seconds=90), limit=0)
        assert [r.message.sequence for r in window] == [8, 7, 6, 5]


def test_series_per_bucket_for_a_device_and_a_line(tmp_path):
    with ResultsDB(tmp_path / "fleet.db", background=False) as db:
        for i in range(6):  # bucket 0: latencies 10..60, two fails
            db.add_result(result("cam-1", i, i, verdict="fail" if i < 2 else "pass", latency=10.0 * (i + 1)))
        db.add_result(result("cam-1", 10, 70))  # bucket 1 (60 s buckets from 23:59)
        db.add_result(result("cam-2", 1, 5, verdict="fail"))
        db.flush()
        for seq, (t, depth, dropped) in enumerate([(1, 5, 0), (30, 9, 2), (65, 3, 1)]):  # a restart reset drops
            db.add_status(status("cam-1", 100 + seq, t, depth, dropped))
        db.add_status(status("cam-2", 1, 2, depth=4))
        points = db.series(["cam-1"], T0, T0 + timedelta(minutes=5), timedelta(minutes=1))
        assert [p.start for p in points] == [T0, T0 + timedelta(minutes=1)]
        first, second = points
        assert (first.images, first.defects, first.defect_rate) == (6, 2, pytest.approx(1 / 3))
        assert first.latency_p50_ms == pytest.approx(35.0) and first.latency_p95_ms == pytest.approx(57.5)
        assert (first.outbox_depth, first.dropped) == (9, 0)
        assert (second.images, second.outbox_depth, second.dropped) == (1, 3, 1)
        line = db.series(["cam-1", "cam-2"], T0, T0 + timedelta(minutes=5), timedelta(minutes=1))
        assert (line[0].images, line[0].defects, line[0].outbox_depth) == (7, 3, 13)
        with pytest.raises(ValueError, match="at least one second"):
            db.series([], T0, T0, timedelta(milliseconds=10))


def test_a_stored_result_keeps_every_field_of_the_message(tmp_path):
    sent = result("cam-1", 1, 0, verdict="fail", score=0.42)
    with ResultsDB(tmp_path / "fleet.db") as db:
        db.add_result(sent)
    with ResultsDB(tmp_path / "fleet.db") as db:
        (stored,) = db.results()
    assert stored.message == sent
    row = pl.read_delta(str(tmp_path / "fleet-results" / "results")).row(0, named=True)
    assert (row["day"], row["n_detections"], row["max_score"]) == ("2024-05-01", 1, pytest.approx(0.42))
    assert json.loads(row["payload"])["detections"][0]["score"] == 0.42


def test_paging_through_a_long_day_in_widening_windows_matches_a_full_sort(tmp_path):
    rng = np.random.default_rng(4)
    seconds = rng.uniform(0, 40 * 3600, 400)  # 40 hours: two days, many windows, some equal times
    seconds[::7] = seconds[0]
    with ResultsDB(tmp_path / "fleet.db", batch_size=90, background=False) as db:
        for seq, s in enumerate(seconds):
            db.add_result(result(f"cam-{seq % 4}", seq, float(s), verdict="fail" if seq % 3 == 0 else "pass"))
        db.flush()
        for where in (ResultFilter(), ResultFilter(verdict="fail"),
                      ResultFilter(since=T0 + timedelta(hours=5), until=T0 + timedelta(hours=30))):  # fmt: skip
            everything = db.page(where, limit=0).rows
            expected = everything.select("time", "device_id", "sequence").rows()
            assert expected == sorted(expected, key=lambda r: (-r[0].timestamp(), r[1], -r[2]))
            walked, cursor = [], None
            while True:
                page = db.page(where, limit=13, after=cursor)
                walked += page.rows.select("time", "device_id", "sequence").rows()
                if page.next is None:
                    break
                cursor = page.next
            assert walked == expected


@pytest.mark.parametrize(("compact_every", "files"), [(4, 1), (0, 4)])  # 0: never compacted
def test_every_n_commits_the_days_written_are_compacted(tmp_path, compact_every, files):
    db = ResultsDB(tmp_path / "fleet.db", batch_size=3, compact_every=compact_every, background=False)
    for seq in range(12):  # four commits of three, each adding a file to the day
        db.add_result(result("cam-1", seq, 60 + seq))  # all after midnight: one day
        if seq % 3 == 2:
            db.flush()
    assert db.store.file_count("results") == files
    assert [r.message.sequence for r in db.results(limit=0)] == list(range(11, -1, -1))
    db.close()


def test_vacuum_deletes_the_files_compaction_replaced_once_they_are_old_enough(tmp_path):
    db = ResultsDB(tmp_path / "fleet.db", batch_size=3, compact_every=4, background=False)
    for seq in range(12):
        db.add_result(result("cam-1", seq, 60 + seq))
        if seq % 3 == 2:
            db.flush()
    folder = tmp_path / "fleet-results" / "results"
    assert len(list(folder.rglob("*.parquet"))) == 5  # four replaced, kept for a week; one live
    assert db.store.vacuum("results") == 0
    assert db.store.vacuum("results", retention_hours=0) == 4
    assert len(list(folder.rglob("*.parquet"))) == 1
    assert len(db.results(limit=0)) == 12
    db.close()
