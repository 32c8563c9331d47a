"""The fleet's local SQLite file (``<home>/fleet.db``): opening it, and write transactions.

The collector's journal (:mod:`qiloop.fleet.results_db`) and the alerts
(:mod:`qiloop.fleet.alerts`) always live in this file, opened here. The controller's
registry (:mod:`qiloop.fleet.registry_db`) is reached through SQLAlchemy at
``fleet_db_url``: by default the same file (its tables beside these, WAL mode for both),
or a PostgreSQL database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from qiloop.core.errors import StoreError
from qiloop.core.sqlite_tx import WriteTransaction


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


def transaction(db: sqlite3.Connection, path: Path) -> WriteTransaction:
    """An immediate write transaction on the fleet database; SQLite failures become :class:`StoreError`."""
    return WriteTransaction(db, f"the fleet database {path}")
