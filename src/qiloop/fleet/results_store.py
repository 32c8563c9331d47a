"""The fleet's results and status history: two Delta tables partitioned by day.

``<url>/results`` holds one row per inspection result, ``<url>/status`` one per
status report (see :mod:`qiloop.fleet.results_schema`). Both are read by the same
tools as the label store (delta-rs, polars, DuckDB, Spark).

Rows arrive in batches from the collector's journal (:mod:`qiloop.fleet.results_db`);
each batch is one commit that carries, in its commit metadata, the journal it came
from and the last journal row it holds. After a crash between the commit and the
journal's clean-up, :meth:`ResultsStore.committed_upto` tells the journal which rows
are already in the table, so no batch lands twice.

One batch a few seconds adds a small file per day it touches; :meth:`ResultsStore.compact`
merges a day's files (the journal runs it every ``compact_every`` commits) and old
files are removed by ``vacuum`` after the retention delta-rs enforces (7 days).
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from qiloop.core.errors import StoreError
from qiloop.core.retry import DELTA_COMMIT, DELTA_LOG_RETRIES, Policy

log = logging.getLogger(__name__)
KINDS = ("results", "status")
# Row groups of this many rows keep the statistics on ``time`` fine enough that reading
# a page's payloads (a narrow time range) decodes a row group, not a compacted day.
ROW_GROUP_ROWS = 32_768
JOURNAL_KEY, UPTO_KEY = "qiloop.journal", "qiloop.journal_upto"


class ResultsStore:
    """Append batches to, and scan, the results and status tables under ``url``.

    Args:
        url: A folder or ``s3://`` URL; the tables are ``<url>/results`` and ``<url>/status``.
        storage_options: delta-rs storage options, ready to use.
    """

    def __init__(self, url: str, storage_options: dict[str, str] | None = None, *, policy: Policy = DELTA_COMMIT):
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self.policy = policy

    @classmethod
    def from_url(cls, url: str, *, storage_options: dict | None = None) -> ResultsStore:
        """A store at ``url``; ``storage_options`` as for fsspec (``endpoint_url``, ``key``...) or delta-rs."""
        from qiloop.storage.backends import delta_options

        if "://" not in url:
            url = str(Path(url).expanduser().resolve())
        return cls(url, delta_options(url, storage_options or {}))

    def table_url(self, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown table {kind!r}; one of {KINDS}")
        return f"{self.url}/{kind}"

    def open(self, kind: str) -> DeltaTable | None:
        """The table of ``kind`` at its latest version, or None before its first batch."""
        try:
            return DeltaTable(self.table_url(kind), storage_options=self.storage_options or None)
        except TableNotFoundError:
            return None
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot open the fleet {kind} table at {self.url}: {exc}", hint="check the URL") from exc

    def append(self, kind: str, rows: pa.Table, *, journal: str, upto: int) -> int:
        """Commit ``rows`` to the ``kind`` table as one version, marked as journal rows up to ``upto``.

        Returns:
            The version written.

        Raises:
            StoreError: The table could not be written (nothing was committed; trying again is safe).
        """
        url = self.table_url(kind)
        properties = CommitProperties(
            custom_metadata={JOURNAL_KEY: journal, UPTO_KEY: str(upto)}, max_commit_retries=DELTA_LOG_RETRIES
        )

        def attempt() -> int:
            table = self.open(kind)
            if table is None:
                write_deltalake(url, rows, partition_by=["day"], mode="append", commit_properties=properties,
                                storage_options=self.storage_options or None, writer_properties=_writer())  # fmt: skip
                return 0
            write_deltalake(table, rows, mode="append", commit_properties=properties, writer_properties=_writer())
            return table.version()

        try:
            return self.policy.call(attempt, retry_on=CommitFailedError, what=f"appending to {url}")
        except (DeltaError, OSError) as exc:
            raise StoreError(
                f"appending {rows.num_rows} rows to the fleet {kind} table {url} failed: {exc}",
                hint="the rows stay in the collector's journal and are written with the next batch",
            ) from exc

    def committed_upto(self, kind: str, journal: str, *, look_back: int = 50) -> int:
        """The last journal row of ``journal`` committed to the ``kind`` table (0: none in the recent log)."""
        table = self.open(kind)
        if table is None:
            return 0
        for entry in table.history(look_back):
            if entry.get(JOURNAL_KEY) == journal and UPTO_KEY in entry:
                return int(entry[UPTO_KEY])
        return 0

    def scan(self, kind: str) -> pl.LazyFrame | None:
        """A lazy scan of the ``kind`` table (None before its first batch); filters on ``day`` prune partitions."""
        table = self.open(kind)
        return None if table is None else pl.scan_delta(table)

    def compact(self, kind: str, days: list[str]) -> int:
        """Merge the small files of the given days of the ``kind`` table; the number of files removed."""
        table = self.open(kind)
        if table is None or not days:
            return 0
        try:
            metrics = table.optimize.compact(partition_filters=[("day", "in", days)], writer_properties=_writer())
        except (DeltaError, OSError) as exc:  # compaction is an optimisation: the next one tries again
            log.warning("compacting the fleet %s table failed: %s", kind, exc)
            return 0
        return int(metrics.get("numFilesRemoved", 0))

    def vacuum(self, kind: str, retention_hours: float = 168.0) -> int:
        """Delete the files compaction replaced more than ``retention_hours`` ago; how many were deleted.

        A reader still on a version older than that would miss them, so the default keeps
        delta-rs's own minimum of a week.
        """
        table = self.open(kind)
        if table is None:
            return 0
        try:
            removed = table.vacuum(
                retention_hours=int(retention_hours), dry_run=False, enforce_retention_duration=retention_hours >= 168
            )
        except (DeltaError, OSError) as exc:  # like compaction, an optimisation: the next one tries again
            log.warning("vacuuming the fleet %s table failed: %s", kind, exc)
            return 0
        return len(removed)

    def file_count(self, kind: str) -> int:
        """Data files in the current version of the ``kind`` table."""
        table = self.open(kind)
        return 0 if table is None else len(table.file_uris())


def _writer() -> WriterProperties:
    return WriterProperties(compression="ZSTD", max_row_group_size=ROW_GROUP_ROWS)
