"""The nucleus's memory across restarts: sequences per target and each deployment's progress.

One SQLite file (WAL, ``synchronous=FULL``). A deployment row is written when the
document is accepted and updated at every step, so a restarted nucleus knows
whether it was mid-install (``previous`` holds the set to roll back to) and never
reports a final state twice: :meth:`AgentState.finish` refuses a second one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass

from qiloop.core.deployments import DeploymentState
from qiloop.core.sqlite_tx import WriteTransaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sequences (target TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY, target TEXT NOT NULL, sequence INTEGER NOT NULL, document TEXT NOT NULL,
    state TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', previous TEXT,
    received REAL NOT NULL, updated REAL NOT NULL, final INTEGER NOT NULL DEFAULT 0);
"""


@dataclass(frozen=True)
class DeploymentRow:
    id: str
    target: str
    sequence: int
    document: str
    state: DeploymentState
    detail: str
    previous: dict[str, str] | None
    final: bool


class AgentState:
    def __init__(self, path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def last_sequence(self, target: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT last FROM sequences WHERE target = ?", (target,)).fetchone()
        return row[0] if row else 0

    def accept(self, deployment_id: str, target: str, sequence: int, document: str) -> None:
        """Record a deployment as received and raise the target's sequence, in one transaction."""
        now = time.time()
        with self._lock, WriteTransaction(self._db):
            self._db.execute(
                "INSERT INTO sequences VALUES (?, ?)"
                " ON CONFLICT (target) DO UPDATE SET last = MAX(last, excluded.last)",
                (target, sequence),
            )
            self._db.execute(
                "INSERT OR IGNORE INTO deployments (id, target, sequence, document, state, received, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (deployment_id, target, sequence, document, DeploymentState.RECEIVED.value, now, now),
            )

    def update(self, deployment_id: str, state: DeploymentState, detail: str = "", previous=None) -> None:
        """Move a deployment to a non-final state (``previous``: the set to roll back to)."""
        with self._lock:
            self._db.execute(
                "UPDATE deployments SET state = ?, detail = ?, updated = ?,"
                " previous = COALESCE(?, previous) WHERE id = ? AND final = 0",
                (
                    state.value,
                    detail,
                    time.time(),
                    json.dumps(previous) if previous is not None else None,
                    deployment_id,
                ),
            )

    def finish(self, deployment_id: str, state: DeploymentState, detail: str = "") -> bool:
        """Record the final state; False (and no change) if the deployment already has one."""
        if not state.final:
            raise ValueError(f"{state.value} is not a final state")
        with self._lock:
            cursor = self._db.execute(
                "UPDATE deployments SET state = ?, detail = ?, updated = ?, final = 1 WHERE id = ? AND final = 0",
                (state.value, detail, time.time(), deployment_id),
            )
        return cursor.rowcount == 1

    def get(self, deployment_id: str) -> DeploymentRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, target, sequence, document, state, detail, previous, final FROM deployments WHERE id = ?",
                (deployment_id,),
            ).fetchone()
        return _row(row) if row else None

    def unfinished(self) -> list[DeploymentRow]:
        """Deployments a previous run accepted but never ended, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, target, sequence, document, state, detail, previous, final FROM deployments"
                " WHERE final = 0 ORDER BY received"
            ).fetchall()
        return [_row(r) for r in rows]

    def history(self, limit: int = 20) -> list[DeploymentRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, target, sequence, document, state, detail, previous, final FROM deployments"
                " ORDER BY received DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_row(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(r) -> DeploymentRow:
    return DeploymentRow(
        r[0], r[1], r[2], r[3], DeploymentState(r[4]), r[5], json.loads(r[6]) if r[6] else None, bool(r[7])
    )
