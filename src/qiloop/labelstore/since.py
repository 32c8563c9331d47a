"""Labels approved after a cursor, read from the files written since (no full scan, no records).

The training trigger asks "how many labels were approved since the last
training" on every tick. Records are append-only and stamped with their
``write_time`` when their append began, so the files written after the cursor
hold every newer record; only those are read (see :mod:`qiloop.storage.delta_since`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow.compute as pc

from qiloop.core.records import LabelStatus
from qiloop.storage.delta_since import rows_since


@dataclass(frozen=True)
class Approved:
    """Approved records written after a cursor.

    Attributes:
        images: Distinct images with a record approved after the cursor.
        records: Records of any status written after the cursor.
        newest: The newest such ``write_time`` (the next cursor), None when there is none.
        version: The label store's table version read (-1: no table yet).
        files_read: Data files opened.
    """

    images: int
    records: int
    newest: datetime | None
    version: int
    files_read: int


def approved_since(store, after: datetime | None) -> Approved:
    """Images given an APPROVED record after ``after`` in ``store`` (a :class:`~qiloop.labelstore.LabelStore`).

    A correction of an already approved image counts again: it is a new label to train on.
    """
    since = rows_since(store.url, "write_time", after, ["image_sha256", "status"], store.storage_options)
    rows, records = since.rows, since.rows.num_rows
    if rows.num_rows:
        rows = rows.filter(pc.equal(rows.column("status"), LabelStatus.APPROVED.value))
    images = len(pc.unique(rows.column("image_sha256"))) if rows.num_rows else 0
    newest = pc.max(rows.column("write_time")).as_py() if rows.num_rows else None
    return Approved(images, records, newest, since.version, since.files_read)
