"""A SQLite write transaction that takes the write lock up front.

``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` when the block raises):
writers of several processes queue for the lock at the start instead of
failing halfway with "database is locked" when a read turns into a write.
The connection must be in autocommit mode (``isolation_level=None``).
Used by the device's outbox and deployment state and by the fleet database.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType

from qiloop.core.errors import StoreError


class WriteTransaction:
    """``with WriteTransaction(db):`` — one immediate transaction.

    Args:
        db: An autocommit connection.
        name: When given, SQLite failures on entry and inside the block become
            :class:`StoreError` naming it (e.g. "the fleet database /x/fleet.db").
    """

    def __init__(self, db: sqlite3.Connection, name: str | None = None) -> None:
        self._db, self._name = db, name

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._store_error(exc) from exc

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        if isinstance(exc, sqlite3.Error) and self._name is not None:
            raise self._store_error(exc) from exc

    def _store_error(self, exc: sqlite3.Error) -> Exception:
        if self._name is None:
            return exc
        return StoreError(f"cannot write {self._name}: {exc}", hint="retry")
