"""The label store: an append-only Delta table of label records.

Nothing is ever updated in place: a correction is a new record with a later
``event_time``. Every append is one table version, so the store answers "what
was the label of this image at that moment, as the store knew it then" and can
rebuild any earlier dataset exactly.

An empty store (no table yet) has version ``None`` and reads as empty; the table
is created by the first append, whose version is 0.

Time travel reaches every version: commit files are never expired and data
files never removed (the store does not vacuum; compaction only adds files).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.records import DatasetSnapshot, LabelRecord, LabelStatus, utc
from qiloop.labelstore import append as appending
from qiloop.labelstore import delta, query
from qiloop.labelstore.append import AppendResult
from qiloop.labelstore.delta import VersionInfo
from qiloop.labelstore.schema import COLUMNS, SCHEMA, conform, table_to_records
from qiloop.labelstore.validate import prepare

AsOf = int | datetime | None


class LabelStore:
    """Append label records; read the latest per image, history, versions and snapshots.

    Args:
        url: the Delta table's folder or ``s3://`` URL.
        storage_options: delta-rs storage options (``AWS_ENDPOINT_URL``, ...), ready to use.
    """

    def __init__(self, url: str, storage_options: dict[str, str] | None = None) -> None:
        self.url = url
        self.storage_options = dict(storage_options or {})

    @classmethod
    def from_url(cls, url: str, *, storage_options: dict | None = None) -> LabelStore:
        """A store at ``url``; ``storage_options`` as for fsspec (``endpoint_url``, ``key``...) or delta-rs."""
        from qiloop.storage.backends import delta_options

        if "://" not in url:
            url = str(Path(url).expanduser().resolve())
        return cls(url, delta_options(url, storage_options or {}))

    @classmethod
    def from_settings(cls, settings) -> LabelStore:
        """The store named by ``settings.label_store_url``."""
        url = settings.label_store_url
        return cls.from_url(url, storage_options=settings.storage_options(url))

    def _table(self, version: int | None = None) -> DeltaTable | None:
        return delta.open_table(self.url, self.storage_options, version)

    def version(self) -> int | None:
        """The current table version, ``None`` while the store is empty."""
        table = self._table()
        return None if table is None else table.version()

    # -- writing -----------------------------------------------------------------------------

    def append(self, records: Iterable[LabelRecord]) -> AppendResult:
        """Append ``records`` in one commit; records already stored (by ``record_id``) are skipped.

        Retrying an append is always safe. Items that are not records are reported
        in ``errors`` and the rest is written.
        """
        now = datetime.now(timezone.utc)
        rows, errors = appending.rows_from_records(records, now)
        return self._append_rows(rows, errors, now)

    def append_table(self, table: pa.Table) -> AppendResult:
        """Append rows given as an Arrow table (the fast path for bulk loads).

        Columns are those of :data:`~qiloop.labelstore.schema.SCHEMA`; optional ones
        may be left out. Each row is checked like a record; bad rows are reported in
        ``errors`` and the rest is written.
        """
        now = datetime.now(timezone.utc)
        rows, errors = prepare(table)
        return self._append_rows(appending.stamp(rows, now), errors, now)

    def _append_rows(self, rows: pa.Table, errors: list[str], now: datetime) -> AppendResult:
        batch = appending.first_per_id(rows)

        def fresh(table: DeltaTable | None) -> pa.Table:
            stored = None if table is None else delta.read(table, ["record_id"])["record_id"]
            return appending.not_stored(batch, stored)

        version, written = delta.append(self.url, self.storage_options, fresh) if batch.num_rows else (None, 0)
        return AppendResult(version, written, rows.num_rows - written, tuple(errors), now)

    # -- reading -----------------------------------------------------------------------------

    def _resolve(self, as_of: AsOf) -> tuple[DeltaTable | None, datetime | None]:
        if as_of is None:
            return self._table(), None
        if isinstance(as_of, bool) or not isinstance(as_of, int | datetime):
            raise ConfigurationError(
                f"as_of must be a table version (int), a datetime or None, not {as_of!r}",
                hint="pass e.g. as_of=3 or as_of=datetime(2024, 5, 1, tzinfo=timezone.utc)",
            )
        if isinstance(as_of, datetime):
            return self._table(), utc(as_of)
        if as_of < 0 or self._table() is None:
            raise NotFoundError(f"label store version {as_of} does not exist", hint="see `qiloop labels versions`")
        return self._table(as_of), None

    def latest_table(self, as_of: AsOf = None, status: str | None = "APPROVED", columns=None) -> pa.Table:
        """The latest record per image as a table (columnar and fast; rows in storage order).

        Args:
            as_of: ``None`` for now, a table version (time travel), or a datetime: the
                records stamped by then (``write_time``, set when their append began)
                about events up to then; naive datetimes are UTC.
            status: keep images whose latest record has this status; ``None`` keeps all.
            columns: the columns wanted (default all).
        """
        wanted = list(columns or COLUMNS)
        unknown = sorted(set(wanted) - set(COLUMNS))
        if unknown:
            raise ConfigurationError(f"unknown label store column(s) {unknown}", hint=f"choose among {list(COLUMNS)}")
        table, moment = self._resolve(as_of)
        if table is None:
            return SCHEMA.empty_table().select(wanted)
        frame = delta.read(table, list(dict.fromkeys([*query.RANK_COLUMNS, *wanted])), _known(moment))
        out = query.latest(frame, _status(status))
        return conform(out.select(wanted).to_arrow())

    def latest(self, as_of: AsOf = None, status: str | None = "APPROVED") -> list[LabelRecord]:
        """The latest record of each image (see :meth:`latest_table`), ordered by image sha256."""
        records = table_to_records(self.latest_table(as_of, status))
        return sorted(records, key=lambda r: r.image_sha256)

    def history(self, image: str) -> list[LabelRecord]:
        """Every record of one image (by sha256 or image URI), by event_time then write_time."""
        table = self._table()
        if table is None:
            return []
        frame = delta.read(table, list(COLUMNS), (pl.col("image_sha256") == image) | (pl.col("image_uri") == image))
        return table_to_records(query.order_history(frame).to_arrow())

    def versions(self) -> list[VersionInfo]:
        """Every table version, oldest first (version, time, operation, rows added)."""
        return delta.versions(self._table())

    def snapshot(self, as_of: AsOf = None) -> DatasetSnapshot:
        """The dataset as of a moment: the version read and the sorted ids of latest APPROVED records."""
        table, moment = self._resolve(as_of)
        if table is None:
            raise NotFoundError(f"the label store at {self.url} is empty", hint="import or approve labels first")
        frame = delta.read(table, list(query.RANK_COLUMNS), _known(moment))
        ids = query.latest(frame, LabelStatus.APPROVED.value)["record_id"].sort().to_list()
        return DatasetSnapshot(label_store_version=table.version(), as_of=moment, record_ids=tuple(ids))

    def records(self, ids: Iterable[str], version: int | None = None) -> list[LabelRecord]:
        """The records with ``ids`` as stored at ``version`` (a snapshot's), in the order given.

        Raises:
            NotFoundError: some id is not in the store at that version.
        """
        wanted = list(ids)
        if not wanted:
            return []
        table = self._table(version) if version is not None else self._table()
        if table is None:
            raise NotFoundError(f"the label store at {self.url} is empty", hint="check the store URL")
        found = query.dedupe(delta.read(table, list(COLUMNS), pl.col("record_id").is_in(wanted)))
        by_id = {r.record_id: r for r in table_to_records(found.to_arrow())}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise NotFoundError(
                f"{len(missing)} record id(s) are not in the label store at version {table.version()}: {missing[:5]}",
                hint="read a snapshot's records at the snapshot's own label_store_version",
            )
        return [by_id[i] for i in wanted]

    def labeled_sha256s(self, status: str | None = "APPROVED") -> set[str]:
        """Images whose latest record has ``status`` (``None``: any record at all)."""
        return set(self.latest_table(status=status, columns=["image_sha256"]).column("image_sha256").to_pylist())

    def stats(self) -> dict:
        """Counts: records, images, images by latest status, boxes in latest approved labels, versions, jobs."""
        from qiloop.labelstore.stats import summarise

        table = self._table()
        return summarise(table, self.versions())

    def compact(self) -> dict:
        """Merge small files (after many small appends) into few; data and every version unchanged.

        Compaction is a new version that swaps files without changing rows; older
        versions still read their own files, so time travel keeps working.
        """
        table = self._table()
        return {} if table is None else dict(table.optimize.compact())


def _known(moment: datetime | None):
    return None if moment is None else query.known_at(moment)


def _status(status) -> str | None:
    if status is None:
        return None
    try:
        return LabelStatus(status.value if isinstance(status, LabelStatus) else str(status).upper()).value
    except ValueError as exc:
        raise ConfigurationError(
            f"unknown label status {status!r}", hint=f"use one of {', '.join(s.value for s in LabelStatus)} or None"
        ) from exc
