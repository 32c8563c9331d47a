"""Appending to a Delta table that other processes append to at the same time.

Delta commits are optimistic: two writers that race for the same log version
both write their data files, and the loser's commit fails. Appends never
conflict in content, so the loser simply tries again after a random back-off
(doubling each time). Failures of the store itself are not retried here: they
become a :class:`StoreError` with the caller's hint.
"""

from __future__ import annotations

import random
import time

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError

from qiloop.core.errors import StoreError

COMMIT_ATTEMPTS = 8


def append(
    table: DeltaTable, data: pa.Table, options: dict[str, str] | None, *, what: str, busy: str, down: str
) -> None:
    """Commit ``data`` to ``table`` in one transaction, retrying when another writer wins the race.

    Args:
        what: What the rows are, for messages ("12 index rows").
        busy: The hint when every attempt lost the race.
        down: The hint when the store failed.

    Raises:
        StoreError: The store failed, or :data:`COMMIT_ATTEMPTS` commits all lost.
    """
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            write_deltalake(table, data, mode="append", storage_options=options or None)
            return
        except CommitFailedError as exc:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise StoreError(f"could not commit {what} after {COMMIT_ATTEMPTS} attempts: {exc}", hint=busy) from exc
            time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
        except (DeltaError, OSError) as exc:
            raise StoreError(f"could not write {what}: {exc}", hint=down) from exc
