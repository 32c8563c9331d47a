"""What an append writes: rows from records, stamped once, minus what the store already has.

Appends are idempotent on ``record_id``. Before writing, rows whose id is already
in the table, and repeats within the batch, are dropped; the rest go in one
blind append. Two retries of the same record racing each other could still both
land, so every read also keeps only the earliest copy of an id: logically the
store never holds a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
import pyarrow as pa

from qiloop.core.records import LabelRecord
from qiloop.labelstore.schema import SCHEMA, TIMESTAMP, records_to_table


@dataclass(frozen=True)
class AppendResult:
    """The outcome of one append.

    Attributes:
        version: table version written, or ``None`` when nothing was new.
        written: rows committed.
        skipped: valid rows not written because their ``record_id`` was already
            stored or repeated within the batch.
        errors: one message per rejected item (with its position); the rest was written.
        write_time: the ``write_time`` stamped on every row of this append.
    """

    version: int | None
    written: int
    skipped: int
    errors: tuple[str, ...] = field(default_factory=tuple)
    write_time: datetime | None = None


def rows_from_records(items: Iterable[object], write_time: datetime) -> tuple[pa.Table, list[str]]:
    """Rows for every :class:`LabelRecord` in ``items``; anything else is reported by position."""
    good: list[LabelRecord] = []
    errors: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, LabelRecord):
            good.append(item)
        else:
            errors.append(f"item {i}: expected a LabelRecord, got {type(item).__name__}")
    return records_to_table(good, write_time), errors


def stamp(rows: pa.Table, write_time: datetime) -> pa.Table:
    """``rows`` in the store's schema with ``write_time`` set on every row."""
    column = pa.array([write_time] * rows.num_rows, TIMESTAMP) if rows.num_rows else pa.array([], TIMESTAMP)
    rows = rows.set_column(SCHEMA.get_field_index("write_time"), SCHEMA.field("write_time"), column)
    return rows.cast(SCHEMA)


def first_per_id(rows: pa.Table) -> pa.Table:
    """The first row of each ``record_id`` in the batch."""
    if rows.num_rows == 0:
        return rows
    keep = pl.from_arrow(rows.column("record_id")).is_first_distinct()
    return rows.filter(keep.to_arrow())


def not_stored(rows: pa.Table, stored_ids: pl.Series | None) -> pa.Table:
    """The rows whose ``record_id`` is not among ``stored_ids``."""
    if stored_ids is None or stored_ids.len() == 0 or rows.num_rows == 0:
        return rows
    ids = pl.from_arrow(rows.column("record_id"))
    return rows.filter((~ids.is_in(stored_ids.implode())).to_arrow())
