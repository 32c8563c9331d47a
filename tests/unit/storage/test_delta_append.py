"""Appends from racing writers: every row of every writer lands exactly once."""

from __future__ import annotations

import threading

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

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
