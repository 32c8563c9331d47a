"""Keeping the label store healthy without breaking its promise: every version stays readable.

Compaction merges the small files of many appends into a new version that
changes no row; a checkpoint makes opening the table cheap. Vacuum is never run:
it would delete the files that older versions read, and the store promises
``as_of`` reads of every version (see docs/decisions.md). The commit log is
kept too (``delta.enableExpiredLogCleanup`` is false on the table).
"""

from __future__ import annotations

import time

from deltalake.exceptions import DeltaError

from qiloop.core.errors import StoreError
from qiloop.labelstore import delta
from qiloop.storage.upkeep import Upkeep


def upkeep(store) -> Upkeep | None:
    """Compact and checkpoint the label store ``store``; None while it is empty.

    Raises:
        StoreError: The table could not be read or written.
    """
    started = time.perf_counter()
    table = delta.open_table(store.url, store.storage_options)
    if table is None:
        return None
    try:
        before = len(table.file_uris())
        table.optimize.compact()
        table.create_checkpoint()
        table.update_incremental()
        return Upkeep(store.url, before, len(table.file_uris()), 0, table.version(), time.perf_counter() - started)
    except (DeltaError, OSError) as exc:
        raise StoreError(f"could not compact {store.url}: {exc}", hint="retry; no data was changed") from exc
