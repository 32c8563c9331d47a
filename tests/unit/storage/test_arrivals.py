"""What arrived after a cursor: only the files written since are read, and rows are compared exactly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
from deltalake import write_deltalake

from qiloop.storage import ImageStore
from qiloop.storage.arrivals import new_feedback, new_images
from qiloop.storage.delta_since import rows_since
from qiloop.storage.feedback import FeedbackEntry

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_rows_since_reads_only_files_that_can_hold_newer_rows(tmp_path):
    uri = str(tmp_path / "t")
    for batch in range(4):  # one file per batch, each an hour later
        times = [T0 + timedelta(hours=batch, microseconds=i) for i in range(3)]
        write_deltalake(uri, pa.table({"at": pa.array(times, pa.timestamp("us", tz="UTC")), "n": [batch] * 3}),
                        mode="append")  # fmt: skip
    everything = rows_since(uri, "at", None, ["n"])
    assert everything.rows.num_rows == 12 and everything.files == everything.files_read == 4
    cursor = T0 + timedelta(hours=2, microseconds=1)  # inside the third file
    since = rows_since(uri, "at", cursor, ["n"])
    assert since.files_read == 2  # the third and fourth files; the first two are skipped on their statistics
    assert sorted(since.rows.column("n").to_pylist()) == [2, 3, 3, 3]  # exact: later than the cursor only
    assert since.newest("at") == T0 + timedelta(hours=3, microseconds=2)
    assert rows_since(uri, "at", since.newest("at"), ["n"]).rows.num_rows == 0


def test_a_missing_table_has_no_rows(tmp_path):
    since = rows_since(str(tmp_path / "none"), "at", None, ["n"])
    assert since.rows.num_rows == 0 and since.version == -1 and since.newest("at") is None


def test_new_images_and_feedback_since_a_cursor(tmp_path, images):
    store = ImageStore.from_url(str(tmp_path / "store"))
    first = [store.ingest_bytes(images.png(seed=i), name=f"a{i}.png") for i in range(3)]
    arrived = new_images(store.url, None)
    assert arrived.count == 3 and arrived.newest == max(r.ingested_at for r in first)
    store.ingest_bytes(images.png(seed=0), name="again.png")  # a duplicate writes no row
    later = [store.ingest_bytes(images.png(seed=i), name=f"b{i}.png") for i in range(10, 12)]
    since = new_images(store.url, arrived.newest)
    assert since.count == 2 and since.newest == max(r.ingested_at for r in later)
    # One index commit per ingest_bytes. Files wholly after the cursor are counted from the log; read are only
    # the file holding the cursor's own row (statistics are kept to the millisecond) and the newest file.
    assert since.files_read <= 3
    assert arrived.files_read <= 2  # a first look at every image opens only the newest file(s)
    for cursor in (None, *(r.ingested_at for r in first + later)):  # counted from the log or read: the same
        expected = sum(1 for r in first + later if cursor is None or r.ingested_at > cursor)
        assert new_images(store.url, cursor).count == expected
    assert new_feedback(store.url, None).count == 0
    entry = dict(image_sha256=later[0].sha256, image_name="b10.png", device_id="d1", reason="uncertain",
                 model_name="m", sent_at=T0)  # fmt: skip
    store.feedback.append([FeedbackEntry(sequence=1, **entry), FeedbackEntry(sequence=2, **entry)])
    store.feedback.append([FeedbackEntry(sequence=2, **entry)])  # re-delivered: counted once
    feedback = new_feedback(store.url, None)
    assert feedback.count == 2 and new_feedback(store.url, feedback.newest).count == 0


def test_count_since_counts_whole_files_from_the_log(tmp_path):
    from qiloop.storage.delta_since import count_since

    uri = str(tmp_path / "t")
    for batch in range(5):
        times = [T0 + timedelta(hours=batch, microseconds=i) for i in range(4)]
        write_deltalake(uri, pa.table({"at": pa.array(times, pa.timestamp("us", tz="UTC"))}), mode="append")
    first = count_since(uri, "at", None)
    assert (first.rows, first.files, first.files_read) == (20, 5, 1)  # four files counted from the log
    assert first.newest == T0 + timedelta(hours=4, microseconds=3)
    middle = count_since(uri, "at", T0 + timedelta(hours=2, microseconds=1))
    assert (middle.rows, middle.files_read) == (2 + 4 + 4, 2)  # the straddling file and the newest are read
    assert count_since(uri, "at", first.newest).rows == 0
    assert count_since(str(tmp_path / "none"), "at", None).rows == 0
