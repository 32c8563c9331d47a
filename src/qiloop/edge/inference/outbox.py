"""The device's durable outbox: every message is on disk before it is sent.

A single SQLite file in WAL mode with ``synchronous=FULL``: a device can lose
power at any moment, and a result that :meth:`Outbox.put` returned must survive
that, not only a crash of the process (WAL with ``NORMAL`` survives a process
kill but may roll back the last commits on power loss). The cost is one fsync
per message, small next to an inference.

Messages leave the file only through :meth:`Outbox.ack` (the broker acknowledged
them) or the disk budget's drop policy, and every exit is counted per kind in
the same transaction, so ``depth == enqueued - delivered - dropped`` holds
exactly, across restarts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qiloop.core.errors import ConfigurationError, StoreError
from qiloop.core.sqlite_tx import WriteTransaction
from qiloop.edge.inference.budget import DROP_ORDER, Admission, DropPolicy, Queued, plan_admission

__all__ = ["DROP_ORDER", "Admission", "DropPolicy", "Message", "Outbox", "OutboxFullError", "OutboxStats", "Queued"]
__all__ += ["encode_payload", "plan_admission"]

COUNTERS = ("enqueued", "delivered", "dropped", "refused")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL,
    kind TEXT NOT NULL, created REAL NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (
    kind TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (kind, name));
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, sequence INTEGER NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created);
"""


class OutboxFullError(StoreError):
    """The disk budget refused a message (policy "newest", or a message larger than the budget)."""


@dataclass(frozen=True)
class Message:
    """One stored message; ``(device_id, sequence)`` identifies it for de-duplication."""

    sequence: int
    topic: str
    payload: bytes
    qos: int
    kind: str
    created: float
    device_id: str


@dataclass(frozen=True)
class OutboxStats:
    """Depth, bytes and the exact counters, per kind (``counts[kind][name]``)."""

    depth: int
    queued_bytes: int
    max_bytes: int
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def total(self, name: str) -> int:
        """Sum of one counter (``enqueued``, ``delivered``, ``dropped``, ``refused``) over all kinds."""
        return sum(c.get(name, 0) for c in self.counts.values())

    @property
    def lost(self) -> int:
        """Messages the budget cost: evicted after acceptance plus refused at the door."""
        return self.total("dropped") + self.total("refused")


def encode_payload(body: Mapping[str, object], device_id: str, sequence: int) -> bytes:
    """JSON-encode a message body with the ``device_id`` and ``sequence`` the cloud de-duplicates on."""
    return json.dumps({**body, "device_id": device_id, "sequence": sequence}, separators=(",", ":")).encode()


class Outbox:
    """A bounded, durable, thread-safe message queue in one SQLite file.

    Args:
        path: The SQLite file (created with its folder if missing).
        device_id: The device owning the file; sequences are per device, so a file
            created for another device is refused.
        max_bytes: Disk budget for queued payloads.
        drop_policy: "oldest" evicts old messages to admit new ones; "newest" refuses new ones.
        first_sequence: The first sequence of a new file (default: the clock in microseconds,
            so a replaced file never reuses a sequence the cloud has seen).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device_id: str,
        max_bytes: int,
        drop_policy: DropPolicy = "oldest",
        first_sequence: int | None = None,
    ) -> None:
        if drop_policy not in ("oldest", "newest"):
            raise ConfigurationError(f"unknown drop policy {drop_policy!r}", hint='use "oldest" or "newest"')
        if max_bytes <= 0:
            raise ConfigurationError(f"max_bytes must be positive, got {max_bytes}")
        self.path, self.device_id, self.max_bytes, self.drop_policy = Path(path), device_id, max_bytes, drop_policy
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the outbox {self.path}: {exc}", hint="move the file aside") from exc
        self._claim_device()
        self._start_sequence(first_sequence)

    def _transaction(self):
        return WriteTransaction(self._db)

    def _claim_device(self) -> None:
        with self._lock, self._transaction():
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('device_id', ?)", (self.device_id,))
            owner = self._db.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()[0]
        if owner != self.device_id:
            raise ConfigurationError(
                f"the outbox {self.path} belongs to device {owner!r}, not {self.device_id!r}",
                hint="give each device its own outbox file",
            )

    def _start_sequence(self, first: int | None) -> None:
        """Number a new file's messages from the clock (microseconds), not from 1.

        The cloud drops a message whose ``(device_id, sequence)`` it has seen. A device
        whose outbox is replaced (re-flashed, or a damaged file moved aside) would
        otherwise count from 1 again and have its new messages dropped as duplicates.
        """
        with self._lock, self._transaction():
            if self._db.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'messages'").fetchone() is None:
                start = int(time.time() * 1_000_000) if first is None else int(first)
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', ?)", (start - 1,))

    def put(self, topic: str, payload: bytes | Mapping[str, object], *, kind: str = "result", qos: int = 1) -> Message:
        """Store a message durably and return it; raises :class:`OutboxFullError` when the budget refuses it.

        A mapping payload is JSON-encoded with the ``device_id`` and ``sequence``; bytes are stored as given.
        """
        message = self._store(topic, payload, kind, qos, None)
        assert message is not None  # only a key makes a put a no-op
        return message

    def put_once(
        self, key: str, topic: str, payload: bytes | Mapping[str, object], *, kind: str = "result", qos: int = 1
    ) -> Message | None:
        """:meth:`put` unless a message was already stored under ``key``; then ``None`` and nothing changes.

        The key is written in the same transaction as the message, so work redone after
        a crash (an image inspected again because the process died before moving it)
        cannot store a second message. Keys outlive their message; :meth:`prune_keys`
        forgets old ones.
        """
        return self._store(topic, payload, kind, qos, key)

    def prune_keys(self, older_than_s: float) -> int:
        """Forget idempotency keys stored more than ``older_than_s`` seconds ago; how many went."""
        with self._lock, self._transaction():
            cursor = self._db.execute("DELETE FROM idempotency WHERE created < ?", (time.time() - older_than_s,))
        return cursor.rowcount

    def _store(
        self, topic: str, payload: bytes | Mapping[str, object], kind: str, qos: int, key: str | None
    ) -> Message | None:
        with self._lock, self._transaction():
            if key is not None and self._db.execute("SELECT 1 FROM idempotency WHERE key = ?", (key,)).fetchone():
                return None
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
            sequence = (row[0] if row else 0) + 1
            data = encode_payload(payload, self.device_id, sequence) if isinstance(payload, Mapping) else bytes(payload)
            used = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM messages").fetchone()[0]
            queued = self._queued() if used + len(data) > self.max_bytes else ()
            verdict = plan_admission(queued, used, len(data), self.max_bytes, self.drop_policy)
            if not verdict.accept:
                self._count(kind, "refused", 1)
            else:
                for victim_kind, n in self._evict(verdict.evict).items():
                    self._count(victim_kind, "dropped", n)
                created = time.time()
                self._db.execute(
                    "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (sequence, topic, data, qos, kind, created, len(data)),
                )
                if key is not None:
                    self._db.execute("INSERT INTO idempotency VALUES (?, ?, ?)", (key, sequence, created))
                self._count(kind, "enqueued", 1)
        if not verdict.accept:
            raise OutboxFullError(
                f"outbox {self.path} refused a {kind} message: {verdict.reason}",
                hint="raise the disk budget or let the device reconnect to drain it",
            )
        return Message(sequence, topic, data, qos, kind, created, self.device_id)

    def pending(self, limit: int = 100, *, after: int = 0) -> list[Message]:
        """Up to ``limit`` queued messages with a sequence above ``after``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT sequence, topic, payload, qos, kind, created FROM messages"
                " WHERE sequence > ? ORDER BY sequence LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Message(s, t, bytes(p), q, k, c, self.device_id) for s, t, p, q, k, c in rows]

    def ack(self, sequence: int) -> bool:
        """Delete a message the broker acknowledged; False if it was already gone (acked twice or dropped)."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT kind FROM messages WHERE sequence = ?", (sequence,)).fetchone()
            if row is None:
                return False
            self._db.execute("DELETE FROM messages WHERE sequence = ?", (sequence,))
            self._count(row[0], "delivered", 1)
        return True

    def depth(self) -> int:
        """Number of messages waiting for a broker acknowledgement."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    def stats(self) -> OutboxStats:
        """Depth, queued bytes and the persisted counters, read in one snapshot."""
        with self._lock, self._transaction():
            depth, used = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
            counts: dict[str, dict[str, int]] = {}
            for kind, name, value in self._db.execute("SELECT kind, name, value FROM counters ORDER BY kind, name"):
                counts.setdefault(kind, dict.fromkeys(COUNTERS, 0))[name] = value
        return OutboxStats(depth=depth, queued_bytes=used, max_bytes=self.max_bytes, counts=counts)

    def close(self) -> None:
        """Close the database connection (a checkpoint folds the WAL back into the file)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _queued(self) -> list[Queued]:
        return [Queued(*r) for r in self._db.execute("SELECT sequence, kind, size FROM messages")]

    def _evict(self, sequences: tuple[int, ...]) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for seq in sequences:
            (kind,) = self._db.execute("SELECT kind FROM messages WHERE sequence = ?", (seq,)).fetchone()
            self._db.execute("DELETE FROM messages WHERE sequence = ?", (seq,))
            kinds[kind] = kinds.get(kind, 0) + 1
        return kinds

    def _count(self, kind: str, name: str, n: int) -> None:
        self._db.execute(
            "INSERT INTO counters VALUES (?, ?, ?)"
            " ON CONFLICT (kind, name) DO UPDATE SET value = value + excluded.value",
            (kind, name, n),
        )
