"""Opening and appending to a Delta table that other processes append to at the same time.

:func:`open_table` opens an append-only table, creating it on first use; two
processes that create it at once both end up with the one that won.

Delta commits are optimistic: two writers that race for the same log version
both write their data files, and the loser's commit fails. delta-rs retries such
a commit by itself (:data:`~qiloop.core.retry.DELTA_LOG_RETRIES` times; blind
appends never conflict in content); a commit that still fails raises
``CommitFailedError`` and is tried again, from the table's latest version,
under the :data:`~qiloop.core.retry.DELTA_COMMIT` policy. Failures of the store itself
(any other ``DeltaError``, an ``OSError``) are not retried here: they become a
:class:`StoreError` with the caller's hint.
"""

from __future__ import annotations

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from qiloop.core.errors import StoreError
from qiloop.core.retry import DELTA_COMMIT, DELTA_LOG_RETRIES, Policy

COMMIT_RETRY_ON = (CommitFailedError,)  # lost the race for a log version: the only failure worth another try


def open_table(uri: str, schema: pa.Schema, options: dict[str, str] | None, *, name: str, what: str) -> DeltaTable:
    """The append-only Delta table ``name`` at ``uri``, created with ``schema`` (race-safely) on first use.

    Raises:
        StoreError: The store cannot be read or written (``what`` names the table in the message).
    """
    options = options or None
    try:
        try:
            return DeltaTable(uri, storage_options=options)
        except TableNotFoundError:
            pass
        try:
            return DeltaTable.create(uri, schema, mode="ignore", name=name,
                                     configuration={"delta.appendOnly": "true"}, storage_options=options)  # fmt: skip
        except DeltaError:  # another process created it between our look and our create: use theirs
            return DeltaTable(uri, storage_options=options)
    except (DeltaError, OSError) as exc:
        raise StoreError(
            f"cannot open or create the {what} at {uri}: {exc}",
            hint="check the store URL, that the bucket exists, and the credentials/endpoint",
        ) from exc


def append(
    table: DeltaTable,
    data: pa.Table,
    options: dict[str, str] | None,
    *,
    what: str,
    busy: str,
    down: str,
    policy: Policy = DELTA_COMMIT,
) -> None:
    """Commit ``data`` to ``table`` in one transaction, retrying when another writer wins the race.

    Args:
        what: What the rows are, for messages ("12 index rows").
        busy: The hint when every attempt lost the race.
        down: The hint when the store failed.
        policy: How often and how long to retry a lost race.

    Raises:
        StoreError: The store failed, or every commit the policy allows lost.
    """

    retrying = False

    def commit() -> None:
        nonlocal retrying
        if retrying:  # the handle still stands at the version it lost: read the winners' commits first
            table.update_incremental()
        retrying = True
        write_deltalake(
            table,
            data,
            mode="append",
            storage_options=options or None,
            commit_properties=CommitProperties(max_commit_retries=DELTA_LOG_RETRIES),
        )

    try:
        policy.call(commit, retry_on=COMMIT_RETRY_ON, what=f"committing {what}")
    except CommitFailedError as exc:
        raise StoreError(f"could not commit {what} after {policy.attempts} attempts: {exc}", hint=busy) from exc
    except (DeltaError, OSError) as exc:
        raise StoreError(f"could not write {what}: {exc}", hint=down) from exc
