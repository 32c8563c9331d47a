"""Keeping the image store's Delta tables healthy: compaction, a checkpoint, and vacuum past a retention.

The image index and the feedback log gain one data file (and one commit) per
ingest batch or collector append. Compaction merges the small files, a checkpoint
spares readers from replaying every commit, and vacuum deletes the files that
compaction replaced once they are older than the retention (Delta's default, 7
days: a reader that opened the table before the compaction still finds its
files). Neither table promises reads of old versions; the label store, which
does, is kept by :mod:`qiloop.labelstore.upkeep` without vacuum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from qiloop.core.errors import StoreError
from qiloop.storage.backends import delta_options
from qiloop.storage.feedback import FEEDBACK_FOLDER

DEFAULT_RETENTION_HOURS = 168  # Delta's default delta.deletedFileRetentionDuration
TABLES = ("_index", FEEDBACK_FOLDER)


@dataclass(frozen=True)
class Upkeep:
    """What one table's upkeep did."""

    table: str
    files_before: int
    files_after: int
    files_vacuumed: int
    version: int
    seconds: float

    def metadata(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}/files_before": self.files_before,
            f"{prefix}/files_after": self.files_after,
            f"{prefix}/files_vacuumed": self.files_vacuumed,
            f"{prefix}/seconds": round(self.seconds, 3),
        }


def upkeep_table(
    uri: str, storage_options: dict[str, str] | None = None, *, retention_hours: int | None = DEFAULT_RETENTION_HOURS
) -> Upkeep | None:
    """Compact, checkpoint and (unless ``retention_hours`` is None) vacuum the table at ``uri``; None without one.

    Raises:
        StoreError: The table could not be read or written.
    """
    started = time.perf_counter()
    try:
        try:
            table = DeltaTable(uri, storage_options=storage_options or None)
        except TableNotFoundError:
            return None
        before = len(table.file_uris())
        table.optimize.compact()
        table.create_checkpoint()
        vacuumed = []
        if retention_hours is not None:
            vacuumed = table.vacuum(retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False)
        table.update_incremental()
        return Upkeep(
            uri, before, len(table.file_uris()), len(vacuumed), table.version(), time.perf_counter() - started
        )
    except (DeltaError, OSError) as exc:
        raise StoreError(
            f"could not compact {uri}: {exc}", hint="check that the store is reachable, then retry"
        ) from exc


def upkeep_image_store(
    store_url: str, storage_options: dict | None = None, *, retention_hours: int | None = DEFAULT_RETENTION_HOURS
) -> list[Upkeep]:
    """:func:`upkeep_table` for the image index and the feedback log of the store at ``store_url``."""
    done = []
    for folder in TABLES:
        uri = f"{store_url.rstrip('/')}/{folder}"
        result = upkeep_table(uri, delta_options(uri, storage_options), retention_hours=retention_hours)
        if result is not None:
            done.append(result)
    return done
