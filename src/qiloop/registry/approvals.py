"""qiloop's own record of approvals, which MLflow's UI cannot move.

MLflow keeps a version's tags and the ``production`` alias where anyone with
access to its UI can change them. qiloop therefore appends every approval and
rejection (who, when, why, the figures it was judged on, the digest of the
exact package files) to a ledger of its own, a SQLite file in the qiloop home,
and ``serve``, ``deploy`` and the fleet run a version only when the ledger says
it stands approved. The alias and tags stay in step for people reading MLflow.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.errors import QiloopError
from qiloop.core.models import ApprovalStatus, ModelVersion
from qiloop.core.package import PackageFile
from qiloop.core.sqlite_tx import WriteTransaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT,
    figures TEXT NOT NULL,
    files_digest TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_by_model ON approvals (name, version, id);
"""


def files_digest(files: Mapping[str, PackageFile]) -> str:
    """One sha256 over a package's file names and their sha256: the exact package a record speaks of."""
    text = json.dumps({name: f.sha256 for name, f in sorted(files.items())}, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ApprovalRecord(BaseModel):
    """One decision about one version: approved or rejected, by whom, when, on which figures."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    state: ApprovalStatus
    actor: str
    at: datetime
    reason: str | None = None
    figures: dict[str, Any] = Field(default_factory=dict)
    files_digest: str

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


class ApprovalLedger:
    """An append-only SQLite log of approval decisions.

    Args:
        path: The ledger file (created with its folder on first write).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        db.executescript(_SCHEMA)
        return db

    def append(
        self,
        name: str,
        version: int,
        state: ApprovalStatus,
        *,
        actor: str,
        files: Mapping[str, PackageFile],
        figures: Mapping[str, Any] | None = None,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> ApprovalRecord:
        """Record a decision; the newest record of a version is its state."""
        record = ApprovalRecord(
            name=name,
            version=version,
            state=state,
            actor=actor,
            at=at or datetime.now(timezone.utc),
            reason=reason,
            figures=dict(figures or {}),
            files_digest=files_digest(files),
        )
        db = self._connect()
        try:
            with WriteTransaction(db, f"the approval ledger {self.path}"):
                db.execute(
                    "INSERT INTO approvals (name, version, state, actor, at, reason, figures, files_digest)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        version,
                        state.value,
                        actor,
                        record.at.isoformat(),
                        reason,
                        json.dumps(record.figures, default=str),
                        record.files_digest,
                    ),
                )
        finally:
            db.close()
        return record

    def history(self, name: str) -> list[ApprovalRecord]:
        """Every decision about a model, oldest first."""
        if not self.path.is_file():
            return []
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT name, version, state, actor, at, reason, figures, files_digest FROM approvals"
                " WHERE name = ? ORDER BY id",
                (name,),
            ).fetchall()
        finally:
            db.close()
        return [
            ApprovalRecord(
                name=r[0],
                version=r[1],
                state=ApprovalStatus(r[2]),
                actor=r[3],
                at=datetime.fromisoformat(r[4]),
                reason=r[5],
                figures=json.loads(r[6]),
                files_digest=r[7],
            )
            for r in rows
        ]

    def latest(self, name: str) -> dict[int, ApprovalRecord]:
        """Per version, its newest decision."""
        return {r.version: r for r in self.history(name)}

    def standing(self, name: str) -> ApprovalRecord | None:
        """The approval that names production: the newest version whose last decision is Approved."""
        approved = [r for r in self.latest(name).values() if r.state == ApprovalStatus.APPROVED]
        return max(approved, key=lambda r: r.version, default=None)


class ApprovalError(QiloopError):
    """A version is to run that qiloop's approval record does not stand behind."""

    exit_code = 2


def check_standing(version: ModelVersion, ledger: ApprovalLedger, *, via_alias: str | None = None) -> ApprovalRecord:
    """The approval record that lets ``version`` run, or :class:`ApprovalError` saying why not.

    Args:
        version: The version about to be served or deployed, as the registry resolved it.
        ledger: qiloop's approval record.
        via_alias: The alias that named it (``production``), when it was named by one: then it
            must also be the version the record makes production, not merely an approved one.
    """
    decisions = ledger.latest(version.name)
    standing = ledger.standing(version.name)
    record = decisions.get(version.version)
    named = f"the {via_alias} alias of {version.name} points to {version.ref}" if via_alias else version.ref
    if standing is None:
        raise ApprovalError(
            f"{named}, but qiloop has no approval on record for any version of {version.name}",
            hint=f"approve a version with `qiloop models approve {version.name}/N` (it records who and when)",
        )
    fix = f"run the approved version ({standing.ref}, approved by {standing.actor} at {standing.at:%Y-%m-%d %H:%M} UTC)"
    if record is None or record.state != ApprovalStatus.APPROVED:
        state = "never approved" if record is None else f"{record.state.value} by {record.actor}"
        raise ApprovalError(
            f"{named}, which qiloop's approval record shows as {state}; the alias was moved outside qiloop",
            hint=f"{fix}, or approve {version.ref} with `qiloop models approve {version.ref}`",
        )
    if via_alias and standing.version != version.version:
        raise ApprovalError(
            f"{named}, but qiloop's approved {via_alias} version is {standing.ref}; the alias was moved outside qiloop",
            hint=f"{fix}: `qiloop models approve {standing.ref}` puts the alias back",
        )
    if record.files_digest != files_digest(version.files):
        raise ApprovalError(
            f"the files registered for {version.ref} differ from those that were approved",
            hint="the registry was altered; register the model again from its run and approve it",
        )
    return record
