"""The fleet database file (``<home>/fleet.db``): opening it, and write transactions.

The collector's tables (:mod:`qiloop.fleet.results_db`) and the controller's
(:mod:`qiloop.fleet.registry_db`) live in the same SQLite file, opened the same way.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from qiloop.core.errors import StoreError


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """Open (creating folder and tables) the fleet database at ``path`` in WAL mode, shareable across threads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the fleet database {path}: {exc}", hint="move the file aside") from exc
    return db


class Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK``): the write lock up front, SQLite failures as StoreError."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db, self._path = db, path

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the fleet database {self._path}: {exc}", hint="retry") from exc

    def __exit__(self, exc_type: object, exc: BaseException | None, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot write the fleet database {self._path}: {exc}", hint="retry") from exc
