"""Appends from racing writers: every row of every writer lands exactly once."""

from __future__ import annotations

import shutil
import threading
import time

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from qiloop.core.errors import StoreError
from qiloop.core.retry import DELTA_COMMIT
from qiloop.storage import delta_append

SCHEMA = pa.schema([("writer", pa.int32()), ("row", pa.int32())])


def test_racing_appends_all_land_once(tmp_path):
    uri = str(tmp_path / "table")
    write_deltalake(uri, pa.Table.from_pylist([], schema=SCHEMA))
    writers, rows_each, errors = 6, 5, []
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        table = DeltaTable(uri)  # each writer's own view of the log, as separate processes have
        start.wait()
        for row in range(rows_each):
            data = pa.Table.from_pylist([{"writer": writer, "row": row}], schema=SCHEMA)
            try:
                delta_append.append(table, data, None, what="1 row", busy="busy", down="down")
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    table = DeltaTable(uri)
    got = sorted((r["writer"], r["row"]) for r in table.to_pyarrow_table().to_pylist())
    assert got == [(w, r) for w in range(writers) for r in range(rows_each)]
    assert table.version() == writers * rows_each  # one commit per append, none lost or doubled


def test_a_commit_that_lost_more_races_than_delta_rs_retries_is_retried_from_the_latest_version(tmp_path, monkeypatch):
    uri = str(tmp_path / "table")
    write_deltalake(uri, pa.Table.from_pylist([], schema=SCHEMA))
    stale = DeltaTable(uri)
    write_deltalake(uri, pa.Table.from_pylist([{"writer": 1, "row": 0}], schema=SCHEMA), mode="append")
    monkeypatch.setattr(delta_append, "DELTA_LOG_RETRIES", 0)  # delta-rs gives up at once: the policy must retry
    data = pa.Table.from_pylist([{"writer": 2, "row": 0}], schema=SCHEMA)
    delta_append.append(stale, data, None, what="1 row", busy="busy", down="down")
    table = DeltaTable(uri)
    assert table.version() == 2 and sorted(r["writer"] for r in table.to_pyarrow_table().to_pylist()) == [1, 2]


def test_a_failed_store_is_not_retried(tmp_path):
    uri = tmp_path / "table"
    write_deltalake(str(uri), pa.Table.from_pylist([], schema=SCHEMA))
    table = DeltaTable(str(uri))
    shutil.rmtree(uri)
    uri.write_bytes(b"a plain file where the table's folder was")  # every write now fails, however often tried
    slow = DELTA_COMMIT.with_(first_s=30.0, max_s=30.0)  # a retry would take half a minute
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        delta_append.append(table, pa.Table.from_pylist([{"writer": 1, "row": 0}], schema=SCHEMA), None,
                            what="1 row", busy="busy", down="down", policy=slow)  # fmt: skip
    assert caught.value.hint == "down" and time.monotonic() - started < 10
