"""What the fleet reported, in one SQLite file: inspection results, device status, feedback seen.

MQTT QoS 1 delivers at least once, and a device re-sends what its outbox still
holds after a restart, so every table is keyed by ``(device_id, sequence)`` and
written with ``INSERT OR IGNORE``: the database itself decides, durably and in
one statement, whether a message is new. A collector restarted after a crash
therefore drops the re-deliveries of what it stored before.

Status keeps every report plus the latest per device; "latest" is by the
device's own clock, so a report delivered late (after an outage) never hides
a newer one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from qiloop.edge.inference.messages import DeviceStatus, FeedbackImage, InferenceResult
from qiloop.fleet.sqlite_file import connect, transaction
from qiloop.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    device_id TEXT NOT NULL, sequence INTEGER NOT NULL, time TEXT NOT NULL, received_at TEXT NOT NULL,
    image_name TEXT NOT NULL, image_sha256 TEXT NOT NULL, model_name TEXT NOT NULL, model_version TEXT NOT NULL,
    verdict TEXT NOT NULL, n_detections INTEGER NOT NULL, latency_ms REAL NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (device_id, sequence));
CREATE INDEX IF NOT EXISTS results_time ON results (time);
CREATE TABLE IF NOT EXISTS status_reports (
    device_id TEXT NOT NULL, sequence INTEGER NOT NULL, time TEXT NOT NULL, received_at TEXT NOT NULL,
    state TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (device_id, sequence));
CREATE TABLE IF NOT EXISTS device_status (
    device_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, time TEXT NOT NULL, received_at TEXT NOT NULL,
    state TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback_seen (
    device_id TEXT NOT NULL, sequence INTEGER NOT NULL, image_sha256 TEXT NOT NULL, reason TEXT NOT NULL,
    received_at TEXT NOT NULL, PRIMARY KEY (device_id, sequence));
"""


@dataclass(frozen=True)
class StoredResult:
    """One stored inspection result; ``message`` is the device's result as it was published."""

    received_at: datetime
    message: InferenceResult


class ResultsDB:
    """Durable de-duplication and history of device messages in one SQLite file (thread-safe).

    Args:
        path: The SQLite file (created with its folder if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = connect(self.path, _SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings, path: str | Path | None = None) -> ResultsDB:
        """The fleet database at ``path``, by default ``<home>/fleet.db``."""
        return cls(path if path is not None else settings.home / "fleet.db")

    def add_result(self, result: InferenceResult, received_at: datetime | None = None) -> bool:
        """Store a result; False (and nothing written) when its ``(device_id, sequence)`` was stored before."""
        payload = result.model_dump_json()
        return self._insert(
            "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.device_id, result.sequence, _iso(result.time), _iso(received_at), result.image_name,
             result.image_sha256, result.model_name, result.model_version, result.verdict,
             len(result.detections), result.latency_ms, payload),
        )  # fmt: skip

    def add_status(self, status: DeviceStatus, received_at: datetime | None = None) -> bool:
        """Store a status report and make it the device's latest unless a newer one is known."""
        row = (status.device_id, status.sequence, _iso(status.time), _iso(received_at), status.state,
               status.model_dump_json())  # fmt: skip
        with self._lock, self._write():
            new = self._db.execute("INSERT OR IGNORE INTO status_reports VALUES (?, ?, ?, ?, ?, ?)", row).rowcount
            if new:
                self._db.execute(
                    "INSERT INTO device_status VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
                    " sequence = excluded.sequence, time = excluded.time, received_at = excluded.received_at,"
                    " state = excluded.state, payload = excluded.payload WHERE excluded.time >= device_status.time",
                    row,
                )
        return bool(new)

    def feedback_seen(self, device_id: str, sequence: int) -> bool:
        """Whether the feedback message ``(device_id, sequence)`` was handled before."""
        with self._lock:
            sql = "SELECT 1 FROM feedback_seen WHERE device_id = ? AND sequence = ?"
            return self._db.execute(sql, (device_id, sequence)).fetchone() is not None

    def mark_feedback(self, feedback: FeedbackImage, sha256: str, received_at: datetime | None = None) -> bool:
        """Note a feedback message as handled (its image stored as ``sha256``); False if it already was."""
        return self._insert(
            "INSERT OR IGNORE INTO feedback_seen VALUES (?, ?, ?, ?, ?)",
            (feedback.device_id, feedback.sequence, sha256, feedback.reason, _iso(received_at)),
        )

    def results(self, device: str | None = None, limit: int = 50) -> list[StoredResult]:
        """The newest ``limit`` results (0: all) by device time, newest first; ``device`` keeps one device."""
        sql = "SELECT received_at, payload FROM results"
        args: list[object] = []
        if device is not None:
            sql += " WHERE device_id = ?"
            args.append(device)
        sql += " ORDER BY time DESC, device_id, sequence DESC LIMIT ?"
        args.append(limit if limit > 0 else -1)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [StoredResult(datetime.fromisoformat(r), InferenceResult.model_validate_json(p)) for r, p in rows]

    def latest_status(self) -> dict[str, DeviceStatus]:
        """The newest status report of every device that sent one."""
        with self._lock:
            rows = self._db.execute("SELECT device_id, payload FROM device_status ORDER BY device_id").fetchall()
        return {d: DeviceStatus.model_validate_json(p) for d, p in rows}

    def status_reports(self, device_id: str) -> list[DeviceStatus]:
        """Every status report of one device, oldest first."""
        with self._lock:
            sql = "SELECT payload FROM status_reports WHERE device_id = ? ORDER BY time, sequence"
            rows = self._db.execute(sql, (device_id,)).fetchall()
        return [DeviceStatus.model_validate_json(p) for (p,) in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table: ``results``, ``status_reports``, ``devices``, ``feedback``."""
        tables = {"results": "results", "status_reports": "status_reports", "devices": "device_status",
                  "feedback": "feedback_seen"}  # fmt: skip
        with self._lock:
            return {k: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for k, t in tables.items()}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _insert(self, sql: str, row: tuple) -> bool:
        with self._lock, self._write():
            return self._db.execute(sql, row).rowcount == 1

    def _write(self):
        return transaction(self._db, self.path)


def _iso(value: datetime | None) -> str:
    """UTC ISO 8601 with a fixed width, so text order is time order."""
    value = value or datetime.now(timezone.utc)
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
