"""Fleet alerts: what is wrong, kept in ``fleet.db``, counted for Prometheus, handed to listeners.

An alert is about one *subject* (a device id, ``line:<group>``, ``rollout:<id>``)
and one :class:`AlertKind`. At most one alert per kind and subject is open at a
time (a partial unique index decides, across processes), so a condition that
holds for an hour raises one alert, not one per check. It is resolved when the
condition clears (the checks do that) or by a person (``qiloop fleet alerts
resolve``); the next occurrence opens a new one.

:class:`Alerts` is what the checks call: it stores a new alert, counts it, and
calls each listener (the webhook, the labelling trigger) — a failing listener is
logged and never stops the others or the caller.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import ClassVar

from qiloop.fleet.sqlite_file import connect, transaction

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, subject TEXT NOT NULL, severity TEXT NOT NULL,
    message TEXT NOT NULL, details TEXT NOT NULL, opened_at TEXT NOT NULL, resolved_at TEXT, resolution TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts (kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_opened ON alerts (opened_at);
"""


class AlertKind(str, Enum):
    DEVICE_OFFLINE = "device_offline"
    DEFECT_RATE = "defect_rate"
    CONFIDENCE_DRIFT = "confidence_drift"
    OUTBOX_GROWING = "outbox_growing"
    ROLLOUT_FAILED = "rollout_failed"


# Alerts that say the data a device sees has changed: worth labelling its recent images.
DATA_ALERTS = frozenset({AlertKind.DEFECT_RATE, AlertKind.CONFIDENCE_DRIFT})


@dataclass(frozen=True)
class Alert:
    """One alert; ``id`` is None until stored, ``resolved_at`` None while it is open."""

    kind: AlertKind
    subject: str
    message: str
    severity: str = "warning"
    details: dict = field(default_factory=dict)
    opened_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    id: int | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None

    @property
    def device_id(self) -> str | None:
        """The device the alert is about, when its subject is one."""
        return None if ":" in self.subject else self.subject

    def to_json(self) -> dict:
        """The alert as JSON-ready fields (the webhook's body, ``--json``)."""
        return {
            "id": self.id, "kind": self.kind.value, "subject": self.subject, "severity": self.severity,
            "message": self.message, "details": self.details, "opened_at": self.opened_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None, "resolution": self.resolution,
        }  # fmt: skip


class AlertStore:
    """The alerts table of the fleet database (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = connect(self.path, _SCHEMA)

    @classmethod
    def from_settings(cls, settings, path: str | Path | None = None) -> AlertStore:
        """The alerts of the fleet database at ``path``, by default ``<home>/fleet.db``."""
        return cls(path if path is not None else settings.home / "fleet.db")

    def open(self, alert: Alert) -> Alert | None:
        """Store ``alert`` as open; None (nothing stored) when one of its kind and subject is open already."""
        with self._lock, transaction(self._db, self.path):
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO alerts (kind, subject, severity, message, details, opened_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (alert.kind.value, alert.subject, alert.severity, alert.message, json.dumps(alert.details),
                 _iso(alert.opened_at)),
            )  # fmt: skip
            if cursor.rowcount != 1:
                return None
            return Alert(**{**alert.__dict__, "id": cursor.lastrowid})

    def resolve(self, kind: AlertKind, subject: str, resolution: str, at: datetime | None = None) -> Alert | None:
        """Close the open alert of ``kind`` about ``subject``; the closed alert, or None when none was open."""
        with self._lock, transaction(self._db, self.path):
            row = self._db.execute(
                "SELECT id FROM alerts WHERE kind = ? AND subject = ? AND resolved_at IS NULL", (kind.value, subject)
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE alerts SET resolved_at = ?, resolution = ? WHERE id = ?", (_iso(at), resolution, row[0])
            )
        return self.get(row[0])

    def resolve_id(self, alert_id: int, resolution: str) -> Alert | None:
        """Close alert ``alert_id`` (a person's decision); None when there is no such alert."""
        alert = self.get(alert_id)
        if alert is None or alert.resolved_at is not None:
            return alert
        return self.resolve(alert.kind, alert.subject, resolution)

    def get(self, alert_id: int) -> Alert | None:
        with self._lock:
            row = self._db.execute(_SELECT + " WHERE id = ?", (alert_id,)).fetchone()
        return _alert(row) if row else None

    def list(
        self, *, open_only: bool = False, kind: AlertKind | None = None, subject: str | None = None, limit: int = 100
    ) -> list[Alert]:
        """Alerts, newest first; ``open_only``, ``kind`` and ``subject`` narrow them, ``limit`` 0 is all."""
        sql = _SELECT + " WHERE (? = 0 OR resolved_at IS NULL) AND (? IS NULL OR kind = ?)"
        sql += " AND (? IS NULL OR subject = ?) ORDER BY id DESC LIMIT ?"
        k = kind.value if kind is not None else None
        with self._lock:
            rows = self._db.execute(sql, (int(open_only), k, k, subject, subject, limit or -1)).fetchall()
        return [_alert(r) for r in rows]

    def open_subjects(self, kind: AlertKind) -> set[str]:
        """The subjects with an open alert of ``kind``."""
        with self._lock:
            rows = self._db.execute("SELECT subject FROM alerts WHERE kind = ? AND resolved_at IS NULL", (kind.value,))
            return {r[0] for r in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()


_SELECT = "SELECT id, kind, subject, severity, message, details, opened_at, resolved_at, resolution FROM alerts"


def _alert(row: tuple) -> Alert:
    alert_id, kind, subject, severity, message, details, opened, resolved, resolution = row
    return Alert(AlertKind(kind), subject, message, severity, json.loads(details), datetime.fromisoformat(opened),
                 alert_id, datetime.fromisoformat(resolved) if resolved else None, resolution)  # fmt: skip


def _iso(value: datetime | None) -> str:
    value = value or datetime.now(timezone.utc)
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


class AlertMetrics:
    """``qiloop_fleet_alerts_total{kind}`` (alerts raised) and ``qiloop_fleet_alerts_open{kind}``.

    Args:
        registry: The prometheus_client registry to register in (default: the process's).
    """

    _by_registry: ClassVar[dict[int, tuple]] = {}

    def __init__(self, registry=None) -> None:
        from prometheus_client import REGISTRY, Counter, Gauge

        registry = registry if registry is not None else REGISTRY
        key = id(registry)
        if key not in self._by_registry:  # a metric is registered once per registry
            self._by_registry[key] = (
                Counter("qiloop_fleet_alerts", "Fleet alerts raised, by kind.", ["kind"], registry=registry),
                Gauge("qiloop_fleet_alerts_open", "Fleet alerts open now, by kind.", ["kind"], registry=registry),
            )
        self.raised, self.open = self._by_registry[key]

    def count(self, alert: Alert) -> None:
        self.raised.labels(alert.kind.value).inc()

    def sync_open(self, store: AlertStore) -> None:
        """Set the open-alert gauge from the store (which other processes write too)."""
        for kind in AlertKind:
            self.open.labels(kind.value).set(len(store.open_subjects(kind)))


Listener = Callable[[Alert], None]


class Alerts:
    """Raise and resolve alerts: store, count, and tell the listeners of each new one.

    Args:
        store: Where alerts are kept.
        metrics: The Prometheus counters (None: not counted).
        listeners: Called with every newly opened alert (webhook, labelling trigger).
    """

    def __init__(self, store: AlertStore, metrics: AlertMetrics | None = None, listeners: list[Listener] | None = None):
        self.store, self.metrics = store, metrics
        self.listeners: list[Listener] = list(listeners or [])

    def raise_(self, kind: AlertKind, subject: str, message: str, *, severity: str = "warning",
               details: dict | None = None) -> Alert | None:  # fmt: skip
        """Open an alert unless one of ``kind`` about ``subject`` is open; the new alert, or None."""
        alert = self.store.open(Alert(kind, subject, message, severity, dict(details or {})))
        if alert is None:
            return None
        log.warning("fleet alert %s on %s: %s", kind.value, subject, message)
        if self.metrics is not None:
            self.metrics.count(alert)
            self.metrics.sync_open(self.store)
        for listener in list(self.listeners):
            try:
                listener(alert)
            except Exception:  # one listener's failure must not keep the alert from the others
                log.exception("an alert listener failed on alert %s", alert.id)
        return alert

    def clear(self, kind: AlertKind, subject: str, resolution: str) -> Alert | None:
        """Resolve the open alert of ``kind`` about ``subject`` (the condition cleared); None when none was open."""
        return self.store.resolve(kind, subject, resolution)
