"""Thin I/O over delta-rs: open, append with commit retries, read columns, list versions.

Commits are atomic: on a local folder a commit file is created with a rename that
never replaces an existing one, on S3 with a conditional put (``If-None-Match``,
asked for by :func:`qiloop.storage.backends.delta_options`). When two writers
race for the same version, delta-rs re-checks for conflicts and retries (blind
appends never conflict with each other); a commit that still fails is retried
here under the :data:`~qiloop.core.retry.DELTA_COMMIT` policy. A writer killed
mid-append leaves at most data files no version refers to: readers see the
table as it was, or with the whole append.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from qiloop.core.errors import NotFoundError, StoreError
from qiloop.core.retry import DELTA_COMMIT, DELTA_LOG_RETRIES, Policy
from qiloop.labelstore.schema import SCHEMA

# Append-only is enforced by the table itself; old commit files are kept forever so
# time travel reaches every version (there is no vacuum: data files are never removed).
TABLE_PROPERTIES = {"delta.appendOnly": "true", "delta.enableExpiredLogCleanup": "false"}


@dataclass(frozen=True)
class VersionInfo:
    """One table version: what happened and how many rows it added."""

    version: int
    timestamp: datetime
    operation: str
    rows_added: int


def open_table(url: str, options: dict[str, str], version: int | None = None) -> DeltaTable | None:
    """The table at ``version`` (latest when ``None``), or ``None`` when there is no table yet."""
    try:
        return DeltaTable(url, version=version, storage_options=options or None)
    except TableNotFoundError:
        return None
    except DeltaError as exc:
        if version is not None and _is_missing_version(exc):
            raise NotFoundError(
                f"label store version {version} does not exist at {url}",
                hint="see `qiloop labels versions` for the versions there are",
            ) from exc
        raise StoreError(f"cannot open the label store at {url}: {exc}", hint="check the URL and credentials") from exc


def _is_missing_version(exc: Exception) -> bool:
    text = str(exc).lower()
    return "version" in text and ("not" in text or "invalid" in text)


def append(url: str, options: dict[str, str], rows_for, *, policy: Policy = DELTA_COMMIT) -> tuple[int | None, int]:
    """Append the rows ``rows_for(table)`` returns, in one commit, retrying conflicts.

    ``rows_for`` sees the table as it is before each attempt, so the rows can be
    re-filtered against records another writer committed meanwhile. A missing
    table is created first (its version 0 is empty; racing creators leave one).
    A commit that loses the race for a log version (``CommitFailedError``, also
    what a racing creator gets) is tried again under ``policy``; any other
    failure of the store is reported at once.

    Returns:
        (version written or ``None`` when there was nothing to write, rows written).
    """
    rows: pa.Table | None = None

    def attempt() -> tuple[int | None, int]:
        nonlocal rows
        rows = None
        table = open_table(url, options) or _create(url, options)
        rows = rows_for(table)
        if rows.num_rows == 0:
            return None, 0
        properties = CommitProperties(max_commit_retries=DELTA_LOG_RETRIES)
        write_deltalake(table, rows, mode="append", commit_properties=properties)
        return table.version(), rows.num_rows  # the handle now stands at the commit it made

    try:
        return policy.call(attempt, retry_on=CommitFailedError, what=f"appending label records to {url}")
    except (DeltaError, OSError) as exc:
        what = "opening the label store" if rows is None else f"appending {rows.num_rows} label records to"
        raise StoreError(
            f"{what} {url} failed: {exc}",
            hint="nothing was committed; retrying the same append is safe (it is idempotent)",
        ) from exc


def _create(url: str, options: dict[str, str]) -> DeltaTable:
    DeltaTable.create(
        url, schema=SCHEMA, mode="ignore", configuration=TABLE_PROPERTIES, storage_options=options or None
    )
    return DeltaTable(url, storage_options=options or None)


def read(table: DeltaTable, columns: list[str], where: pl.Expr | None = None) -> pl.DataFrame:
    """``columns`` of every row of ``table`` at its loaded version (filter pushed into the scan)."""
    scan = pl.scan_delta(table).select(columns)
    if where is not None:
        scan = scan.filter(where)
    return scan.collect()


def versions(table: DeltaTable | None) -> list[VersionInfo]:
    """Every version of the table, oldest first, from its commit log.

    delta-rs numbers history entries down from the version it loaded, but reads
    the commits present when asked; when a writer commits in between, the
    numbers shift. The log is complete back to version 0 (it never expires), so
    the oldest entry is version 0 and the numbers are re-based on it.
    """
    if table is None:
        return []
    entries = table.history()
    shift = -int(entries[-1]["version"]) if entries else 0
    out = []
    for entry in entries:
        metrics = entry.get("operationMetrics") or {}
        added = int(metrics.get("num_added_rows", 0)) if entry.get("operation") == "WRITE" else 0
        stamp = datetime.fromtimestamp(entry["timestamp"] / 1000, tz=timezone.utc)
        out.append(VersionInfo(int(entry["version"]) + shift, stamp, str(entry.get("operation", "")), added))
    return sorted(out, key=lambda v: v.version)
