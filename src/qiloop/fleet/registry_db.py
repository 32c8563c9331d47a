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
- ``device_keys``: the public key registered for each device (by enrollment token or by an
  admin), with the signed sequences of its last accepted hello and status, so replayed or
  stale ones are recognised.
- ``enroll_tokens``: one-time enrollment tokens (their sha256 only), per device, until used or expired.
- ``pending_devices``: the last hello of each device that is not enrolled (signed by the key it
  presents), so an admin can see and admit it; the newest :data:`PENDING_LIMIT` are kept.

The results collector keeps its own tables in the same file (:mod:`qiloop.fleet.results_db`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from qiloop.core.deployments import FINAL_STATES, DeploymentState, SignedDeployment
from qiloop.core.errors import ConfigurationError
from qiloop.fleet.rollout import Rollout
from qiloop.fleet.sqlite_file import connect, transaction
from qiloop.protocol.enrollment import proof_matches
from qiloop.protocol.keys import decode_public_key, key_id
from qiloop.protocol.reports import DeploymentReport, DeviceHello

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
CREATE TABLE IF NOT EXISTS device_keys (
    device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, key_id TEXT NOT NULL, source TEXT NOT NULL,
    added_at REAL NOT NULL, hello_sequence INTEGER, status_sequence INTEGER);
CREATE TABLE IF NOT EXISTS enroll_tokens (
    digest TEXT PRIMARY KEY, device_id TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    used_at REAL, key_id TEXT);
CREATE TABLE IF NOT EXISTS pending_devices (
    device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, key_id TEXT NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, seen_at REAL NOT NULL);
"""

# The high-water marks a device's hello and status must pass (fixed statements, one per column).
_ADVANCE = {
    "hello_sequence": ("SELECT hello_sequence FROM device_keys WHERE device_id = ?",
                       "UPDATE device_keys SET hello_sequence = ? WHERE device_id = ?"),
    "status_sequence": ("SELECT status_sequence FROM device_keys WHERE device_id = ?",
                        "UPDATE device_keys SET status_sequence = ? WHERE device_id = ?"),
}  # fmt: skip
PENDING_LIMIT = 1000  # devices waiting for an admin: anyone can ask, so the list is bounded


@dataclass(frozen=True)
class PendingDevice:
    """A device that said hello, signed by the key it presents, before any key was registered for it."""

    device_id: str
    public_key: str
    key_id: str
    seen_at: float


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


@dataclass(frozen=True)
class DeviceKey:
    """The key registered for a device: base64 and raw, its id, and how it came (``token`` or ``admin``)."""

    device_id: str
    public_key: str
    key_id: str
    source: str
    added_at: float

    @property
    def raw(self) -> bytes:
        return decode_public_key(self.public_key)


class FleetDB:
    """Device registry, report log, deployments and rollouts in one SQLite file (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = connect(self.path, _SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(device_keys)")}
        if "hello_sequence" not in columns:  # a fleet.db from before hellos were numbered
            self._db.execute("ALTER TABLE device_keys ADD COLUMN hello_sequence INTEGER")

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

    # -- device keys and enrollment -----------------------------------------------------------

    def add_device_key(
        self, device_id: str, public_key: str, *, source: str = "admin", replace: bool = False
    ) -> DeviceKey:
        """Register ``public_key`` (base64) for ``device_id``; from then on only it signs that device's messages.

        Raises:
            InvalidRecordError: Not a base64 Ed25519 public key.
            ConfigurationError: The device has another key and ``replace`` is False.
        """
        raw = decode_public_key(public_key)
        key = DeviceKey(device_id, public_key.strip(), key_id(raw), source, time.time())
        with self._lock, transaction(self._db, self.path):
            row = self._db.execute("SELECT key_id FROM device_keys WHERE device_id = ?", (device_id,)).fetchone()
            if row is not None and row[0] != key.key_id and not replace:
                raise ConfigurationError(
                    f"device {device_id!r} already has key {row[0]}",
                    hint="pass --replace to register the new key (the old one stops working)",
                )
            self._db.execute(
                "INSERT INTO device_keys (device_id, public_key, key_id, source, added_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (device_id) DO UPDATE SET public_key = excluded.public_key, key_id = excluded.key_id,"
                " source = excluded.source,"
                " added_at = excluded.added_at, hello_sequence = NULL, status_sequence = NULL",
                (device_id, key.public_key, key.key_id, source, key.added_at),
            )
        return key

    def device_key(self, device_id: str) -> DeviceKey | None:
        with self._lock:
            row = self._db.execute(
                "SELECT device_id, public_key, key_id, source, added_at FROM device_keys WHERE device_id = ?",
                (device_id,),
            ).fetchone()
        return DeviceKey(*row) if row else None

    def device_keys(self) -> list[DeviceKey]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, public_key, key_id, source, added_at FROM device_keys ORDER BY device_id"
            ).fetchall()
        return [DeviceKey(*r) for r in rows]

    def remove_device_key(self, device_id: str) -> bool:
        """Forget a device's key (its messages are dropped until it enrolls again); False when it had none."""
        with self._lock, transaction(self._db, self.path):
            return bool(self._db.execute("DELETE FROM device_keys WHERE device_id = ?", (device_id,)).rowcount)

    def add_enroll_token(self, device_id: str, digest: str, expires_at: float) -> None:
        """Keep a one-time token's sha256 for ``device_id`` until ``expires_at`` (epoch seconds)."""
        self._run(
            "INSERT INTO enroll_tokens VALUES (?, ?, ?, ?, NULL, NULL)", (digest, device_id, time.time(), expires_at)
        )

    def enroll(self, device_id: str, public_key: str, proof: str, at: float | None = None) -> DeviceKey | None:
        """Register ``public_key`` for a device that has none, spending the token ``proof`` was made with.

        None when the device already has a key or no unused, unexpired token of the device matches.
        """
        at = at or time.time()
        raw = decode_public_key(public_key)
        with self._lock, transaction(self._db, self.path):
            if self._db.execute("SELECT 1 FROM device_keys WHERE device_id = ?", (device_id,)).fetchone():
                return None
            tokens = self._db.execute(
                "SELECT digest FROM enroll_tokens WHERE device_id = ? AND used_at IS NULL AND expires_at > ?",
                (device_id, at),
            ).fetchall()
            digest = next((d for (d,) in tokens if proof_matches(d, device_id, public_key, proof)), None)
            if digest is None:
                return None
            key = DeviceKey(device_id, public_key, key_id(raw), "token", at)
            self._db.execute(
                "UPDATE enroll_tokens SET used_at = ?, key_id = ? WHERE digest = ?", (at, key.key_id, digest)
            )
            self._db.execute(
                "INSERT INTO device_keys (device_id, public_key, key_id, source, added_at) VALUES (?, ?, ?, ?, ?)",
                (device_id, public_key, key.key_id, "token", at),
            )
        return key

    def note_pending(self, device_id: str, public_key: str, topic: str, payload: bytes) -> None:
        """Keep the last hello of a device that is not enrolled (the newest :data:`PENDING_LIMIT` devices)."""
        at = time.time()
        with self._lock, transaction(self._db, self.path):
            self._db.execute(
                "INSERT INTO pending_devices VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
                " public_key = excluded.public_key, key_id = excluded.key_id, topic = excluded.topic,"
                " payload = excluded.payload, seen_at = excluded.seen_at",
                (device_id, public_key, key_id(decode_public_key(public_key)), topic, payload, at),
            )
            self._db.execute(
                "DELETE FROM pending_devices WHERE device_id NOT IN"
                " (SELECT device_id FROM pending_devices ORDER BY seen_at DESC LIMIT ?)",
                (PENDING_LIMIT,),
            )

    def pending_devices(self) -> list[PendingDevice]:
        """Devices waiting for a key to be registered, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, public_key, key_id, seen_at FROM pending_devices ORDER BY seen_at DESC"
            ).fetchall()
        return [PendingDevice(*r) for r in rows]

    def take_admitted(self) -> list[tuple[str, bytes]]:
        """``(topic, hello payload)`` of the pending devices that have a key now, removed from the list."""
        with self._lock, transaction(self._db, self.path):
            rows = self._db.execute(
                "SELECT p.device_id, p.topic, p.payload FROM pending_devices p JOIN device_keys k USING (device_id)"
            ).fetchall()
            self._db.executemany("DELETE FROM pending_devices WHERE device_id = ?", [(r[0],) for r in rows])
        return [(topic, bytes(payload)) for _, topic, payload in rows]

    def accept_hello(self, device_id: str, sequence: int) -> str:
        """``new`` when the hello's sequence is above the last accepted one (remembered), else ``same`` or ``old``."""
        return self._advance(device_id, "hello_sequence", sequence)

    def accept_status(self, device_id: str, sequence: int) -> str:
        """``new`` when the status's sequence is above the last accepted one (and remember it), ``same`` or ``old``."""
        return self._advance(device_id, "status_sequence", sequence)

    def _advance(self, device_id: str, column: str, value: float) -> str:
        read, write = _ADVANCE[column]
        with self._lock, transaction(self._db, self.path):
            row = self._db.execute(read, (device_id,)).fetchone()
            last = row[0] if row else None
            if last is not None and value <= last:
                return "same" if value == last else "old"
            if row is not None:
                self._db.execute(write, (value, device_id))
        return "new"

    def _run(self, sql: str, row: tuple) -> None:
        with self._lock, transaction(self._db, self.path):
            self._db.execute(sql, row)
