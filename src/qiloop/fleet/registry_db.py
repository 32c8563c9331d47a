"""The fleet controller's memory, in the home's ``fleet.db``: devices, reports, deployments, rollouts.

- ``devices``: every device that said hello (groups, public key, running set), with
  its last deployment report and its last status (received times by the controller's clock).
- ``deployment_reports``: every report, once per ``(device_id, sequence)`` (MQTT delivers
  at least once; a restarted device re-sends what its outbox holds).
- ``deployments``: every signed document the controller created, with its rollout.
- ``sequences``: the last sequence per target, allocated in one ``BEGIN IMMEDIATE``
  transaction so two processes never hand out the same number; a target's next number is
  also above any sequence a device ever reported for it, so a lost database cannot make
  the fleet refuse new deployments as replays.
- ``rollouts``: each rollout's state (:class:`~qiloop.fleet.rollout.Rollout` as JSON).
- ``controllers``: a heartbeat per running controller, so ``qiloop deploy`` can tell
  whether anyone carries its rollout out.

The results collector keeps its own tables in the same file (:mod:`qiloop.fleet.results_db`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from qiloop.core.deployments import FINAL_STATES, DeploymentState, SignedDeployment
from qiloop.edge.agent.protocol import DeploymentReport, DeviceHello
from qiloop.fleet.rollout import Rollout
from qiloop.fleet.sqlite_file import connect, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, groups TEXT NOT NULL DEFAULT '[]', public_key TEXT NOT NULL DEFAULT '',
    agent_version TEXT NOT NULL DEFAULT '', running TEXT NOT NULL DEFAULT '{}', hello_at REAL,
    report_state TEXT, report_deployment TEXT, report_detail TEXT, report_at REAL,
    status_state TEXT, status_at REAL, seen_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deployment_reports (
    device_id TEXT NOT NULL, sequence INTEGER NOT NULL, deployment_id TEXT NOT NULL, target TEXT NOT NULL,
    deployment_sequence INTEGER NOT NULL, state TEXT NOT NULL, detail TEXT NOT NULL, time TEXT NOT NULL,
    received_at REAL NOT NULL, bytes_downloaded INTEGER NOT NULL, running TEXT NOT NULL,
    PRIMARY KEY (device_id, sequence));
CREATE INDEX IF NOT EXISTS reports_deployment ON deployment_reports (deployment_id);
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY, target TEXT NOT NULL, sequence INTEGER NOT NULL, rollout_id TEXT NOT NULL,
    role TEXT NOT NULL, created_at REAL NOT NULL, signed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (target TEXT PRIMARY KEY, sequence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rollouts (
    id TEXT PRIMARY KEY, target TEXT NOT NULL, phase TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS controllers (
    name TEXT PRIMARY KEY, broker_url TEXT NOT NULL, files_url TEXT NOT NULL, pid INTEGER NOT NULL,
    heartbeat_at REAL NOT NULL);
"""


@dataclass(frozen=True)
class DeviceRow:
    """One device as the controller knows it (times are the controller's epoch seconds)."""

    device_id: str
    groups: list[str]
    public_key: str
    agent_version: str
    running: dict[str, str]
    hello_at: float | None
    report_state: str | None
    report_deployment: str | None
    report_detail: str | None
    report_at: float | None
    status_state: str | None
    status_at: float | None
    seen_at: float


class FleetDB:
    """Device registry, report log, deployments and rollouts in one SQLite file (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = connect(self.path, _SCHEMA)

    @classmethod
    def from_settings(cls, settings, path: str | Path | None = None) -> FleetDB:
        """The fleet database at ``path``, by default ``<home>/fleet.db``."""
        return cls(path if path is not None else settings.home / "fleet.db")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- devices ------------------------------------------------------------------------------

    def add_hello(self, hello: DeviceHello, at: float | None = None) -> None:
        """Register or refresh a device from its (retained) hello."""
        at = at or time.time()
        row = (hello.device_id, json.dumps(sorted(hello.groups)), hello.public_key, hello.agent_version,
               json.dumps(hello.running, sort_keys=True), at, at)  # fmt: skip
        self._run(
            "INSERT INTO devices (device_id, groups, public_key, agent_version, running, hello_at, seen_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET groups = excluded.groups,"
            " public_key = excluded.public_key, agent_version = excluded.agent_version,"
            " running = excluded.running, hello_at = excluded.hello_at, seen_at = excluded.seen_at",
            row,
        )

    def add_report(self, report: DeploymentReport, at: float | None = None) -> bool:
        """Log a deployment report once per ``(device_id, sequence)``; False for a re-delivery."""
        at = at or time.time()
        with self._lock, transaction(self._db, self.path):
            new = self._db.execute(
                "INSERT OR IGNORE INTO deployment_reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (report.device_id, report.sequence if report.sequence is not None else -int(at * 1e6),
                 report.deployment_id, report.target, report.deployment_sequence, report.state.value, report.detail,
                 report.time.isoformat(), at, report.bytes_downloaded, json.dumps(report.running, sort_keys=True)),
            ).rowcount  # fmt: skip
            if new:
                self._db.execute(
                    "INSERT INTO devices (device_id, running, report_state, report_deployment, report_detail,"
                    " report_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
                    " running = excluded.running, report_state = excluded.report_state,"
                    " report_deployment = excluded.report_deployment, report_detail = excluded.report_detail,"
                    " report_at = excluded.report_at, seen_at = excluded.seen_at",
                    (report.device_id, json.dumps(report.running, sort_keys=True), report.state.value,
                     report.deployment_id, report.detail, at, at),
                )  # fmt: skip
        return bool(new)

    def note_status(self, device_id: str, state: str, at: float | None = None) -> None:
        """Remember a device's latest status (``running``, ``stopped``...) and when it arrived."""
        at = at or time.time()
        self._run(
            "INSERT INTO devices (device_id, status_state, status_at, seen_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (device_id) DO UPDATE SET status_state = excluded.status_state,"
            " status_at = excluded.status_at, seen_at = excluded.seen_at",
            (device_id, state, at, at),
        )

    def devices(self, group: str | None = None) -> list[DeviceRow]:
        """Every known device (or the members of ``group``), by id."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM devices ORDER BY device_id").fetchall()
        found = [DeviceRow(r[0], json.loads(r[1]), *r[2:4], json.loads(r[4]), *r[5:]) for r in rows]
        return [d for d in found if group is None or group in d.groups]

    def finals(self, deployment_ids: list[str]) -> dict[tuple[str, str], tuple[DeploymentState, str]]:
        """(device, deployment) → (final state, detail) for the given deployments."""
        if not deployment_ids:
            return {}
        marks = ",".join("?" * len(deployment_ids))
        finals = [s.value for s in FINAL_STATES]
        with self._lock:
            rows = self._db.execute(
                f"SELECT device_id, deployment_id, state, detail FROM deployment_reports WHERE deployment_id IN"
                f" ({marks}) AND state IN (?, ?, ?, ?) ORDER BY received_at",
                [*deployment_ids, *finals],
            ).fetchall()
        return {(d, i): (DeploymentState(s), detail) for d, i, s, detail in rows}

    def reports(self, deployment_id: str) -> list[dict]:
        """Every report of one deployment, in arrival order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, state, detail, received_at, bytes_downloaded FROM deployment_reports"
                " WHERE deployment_id = ? ORDER BY received_at",
                (deployment_id,),
            ).fetchall()
        keys = ("device_id", "state", "detail", "received_at", "bytes_downloaded")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- deployments and sequences ------------------------------------------------------------

    def next_sequence(self, target: str) -> int:
        """The next sequence of ``target``: above every one allocated or reported, never handed out twice."""
        with self._lock, transaction(self._db, self.path):
            stored = self._db.execute("SELECT sequence FROM sequences WHERE target = ?", (target,)).fetchone()
            reported = self._db.execute(
                "SELECT MAX(deployment_sequence) FROM deployment_reports WHERE target = ?", (target,)
            ).fetchone()
            sequence = max(stored[0] if stored else 0, reported[0] or 0) + 1
            self._db.execute(
                "INSERT INTO sequences VALUES (?, ?) ON CONFLICT (target) DO UPDATE SET sequence = excluded.sequence",
                (target, sequence),
            )
        return sequence

    def add_deployment(self, signed: SignedDeployment, *, rollout_id: str = "", role: str = "") -> None:
        deployment = signed.deployment()
        self._run(
            "INSERT INTO deployments VALUES (?, ?, ?, ?, ?, ?, ?)",
            (deployment.id, str(deployment.target), deployment.sequence, rollout_id, role, time.time(),
             signed.model_dump_json()),
        )  # fmt: skip

    def deployment(self, deployment_id: str) -> SignedDeployment | None:
        with self._lock:
            row = self._db.execute("SELECT signed FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
        return SignedDeployment.model_validate_json(row[0]) if row else None

    # -- rollouts and controllers -------------------------------------------------------------

    def save_rollout(self, rollout: Rollout) -> None:
        self._run(
            "INSERT INTO rollouts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET phase = excluded.phase,"
            " updated_at = excluded.updated_at, data = excluded.data",
            (rollout.id, str(rollout.target), rollout.phase.value, rollout.created_at, time.time(),
             rollout.model_dump_json()),
        )  # fmt: skip

    def rollout(self, rollout_id: str) -> Rollout | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM rollouts WHERE id = ?", (rollout_id,)).fetchone()
        return Rollout.model_validate_json(row[0]) if row else None

    def rollouts(self, *, active: bool = False, limit: int = 20) -> list[Rollout]:
        """The newest rollouts first (``active``: only those not ended), or the oldest active first."""
        sql = "SELECT data FROM rollouts"
        sql += " WHERE phase NOT IN ('SUCCEEDED', 'ABORTED', 'SUPERSEDED') ORDER BY created_at" if active else ""
        sql += "" if active else " ORDER BY created_at DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, () if active else (limit,)).fetchall()
        return [Rollout.model_validate_json(r[0]) for r in rows]

    def heartbeat(self, name: str, broker_url: str, files_url: str, pid: int) -> None:
        self._run(
            "INSERT INTO controllers VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " broker_url = excluded.broker_url, files_url = excluded.files_url, pid = excluded.pid,"
            " heartbeat_at = excluded.heartbeat_at",
            (name, broker_url, files_url, pid, time.time()),
        )

    def controllers(self, within_s: float = 10.0) -> list[dict]:
        """Controllers that beat within the last ``within_s`` seconds."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name, broker_url, files_url, pid, heartbeat_at FROM controllers WHERE heartbeat_at >= ?",
                (time.time() - within_s,),
            ).fetchall()
        return [dict(zip(("name", "broker_url", "files_url", "pid", "heartbeat_at"), r, strict=True)) for r in rows]

    def _run(self, sql: str, row: tuple) -> None:
        with self._lock, transaction(self._db, self.path):
            self._db.execute(sql, row)
