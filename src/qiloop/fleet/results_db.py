"""What the fleet reported: a durable intake journal in ``fleet.db``, history in Delta tables.

The collector hands each message here on paho's network thread, and paho
acknowledges it to the broker when that call returns. So a message is *handled*
when it is committed to the journal (in the operating system's hands, so a crash of
the collector loses nothing; on disk as well with ``fsync``, so a power loss neither):
one SQLite transaction that also decides,
durably, whether its ``(device_id, sequence)`` was seen before (QoS 1 delivers at
least once; a restarted device re-sends what its outbox holds). A background
flusher moves the journal into the day-partitioned Delta tables of
:class:`~qiloop.fleet.results_store.ResultsStore` in batches — one commit per
``batch_size`` rows or per ``flush_interval_s``, and on :meth:`ResultsDB.close` —
and deletes what it committed. A crash at any point loses nothing acknowledged:
rows not yet committed stay in the journal, and rows committed but not yet deleted
are recognised by the commit's journal mark and dropped, never written twice.

The flush holds the journal's write lock from reading the batch to deleting it, so
two processes flushing one journal take turns. Readers see the tables plus the
rows still in the journal.

Duplicates are recognised exactly for ``dedupe_window_s`` (by arrival time): the
``(device_id, sequence)`` of every message is kept that long, so messages may arrive
in any order within it. When keys are forgotten, the highest forgotten sequence of each
device becomes its *floor*, kept for good: a message at or below it is refused, never
stored twice, however late a replay comes (a device numbers its messages upwards, from
the clock when its outbox is new, so nothing it sends later falls under the floor; only
a message that arrived over a window after a later-numbered one would). Status keeps the latest
report per device (by the device's own clock) in ``fleet.db`` for the Fleet page;
the feedback marks stay there too (few, and checked before an image is stored).

An older ``fleet.db`` with the results and status tables of one SQLite file is
moved into the journal when opened, and flushed by the next writer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from qiloop.core.errors import StoreError
from qiloop.fleet import results_query as query
from qiloop.fleet.results_schema import result_row, status_row, to_table
from qiloop.fleet.results_store import KINDS, ResultsStore
from qiloop.fleet.sqlite_file import connect, transaction
from qiloop.protocol.messages import DeviceStatus, FeedbackImage, InferenceResult
from qiloop.settings import Settings

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results_seen (
    kind TEXT NOT NULL, device_id TEXT NOT NULL, sequence INTEGER NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (kind, device_id, sequence)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_seen_at ON results_seen (received_at);
CREATE TABLE IF NOT EXISTS results_floor (
    kind TEXT NOT NULL, device_id TEXT NOT NULL, sequence INTEGER NOT NULL,
    PRIMARY KEY (kind, device_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO results_meta VALUES ('journal', lower(hex(randomblob(16))));
CREATE TABLE IF NOT EXISTS device_status (
    device_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, time TEXT NOT NULL, received_at TEXT NOT NULL,
    state TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback_seen (
    device_id TEXT NOT NULL, sequence INTEGER NOT NULL, image_sha256 TEXT NOT NULL, reason TEXT NOT NULL,
    received_at TEXT NOT NULL, PRIMARY KEY (device_id, sequence));
"""
# The one-file tables of qiloop before 0.2, moved into the journal when found.
_LEGACY = {
    "results": (
        "INSERT OR IGNORE INTO results_seen SELECT 'results', device_id, sequence, received_at FROM results",
        "INSERT INTO results_journal (kind, received_at, payload) SELECT 'results', received_at, payload"
        " FROM results ORDER BY time",
        "DROP TABLE results",
    ),
    "status_reports": (
        "INSERT OR IGNORE INTO results_seen SELECT 'status', device_id, sequence, received_at FROM status_reports",
        "INSERT INTO results_journal (kind, received_at, payload) SELECT 'status', received_at, payload"
        " FROM status_reports ORDER BY time",
        "DROP TABLE status_reports",
    ),
}
_PARSE = {"results": InferenceResult.model_validate_json, "status": DeviceStatus.model_validate_json}
_ROW = {"results": result_row, "status": status_row}


@dataclass(frozen=True)
class StoredResult:
    """One stored inspection result; ``message`` is the device's result as it was published."""

    received_at: datetime
    message: InferenceResult


class ResultsDB:
    """The fleet's results and status: journal and de-duplication in SQLite, history in Delta (thread-safe).

    Args:
        path: The SQLite file (created with its folder if missing).
        store: The Delta tables (default: ``fleet-results`` beside ``path``).
        batch_size: Journal rows per Delta commit; reaching it wakes the flusher.
        flush_interval_s: The longest a row waits in the journal while the flusher runs.
        dedupe_window_s: How long each ``(device_id, sequence)`` is remembered; older replays meet the floor.
        compact_every: Merge the small files of the days written after this many commits.
        background: Flush from a background thread (started by the first write); without it
            only :meth:`flush` and :meth:`close` move the journal.
        fsync: Sync every journalled message to disk before it counts as handled: it then
            survives a power loss too, at the disk's sync rate (about 250 messages a second on
            a virtual disk). Off, a committed message survives any crash of the collector,
            which is what the broker's own persistence promises for what it acknowledged.
    """

    def __init__(
        self,
        path: str | Path,
        store: ResultsStore | None = None,
        *,
        batch_size: int = 5000,
        flush_interval_s: float = 2.0,
        dedupe_window_s: float = 86_400.0,
        compact_every: int = 100,
        background: bool = True,
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self.store = store or ResultsStore.from_url(str(self.path.parent / "fleet-results"))
        self.batch_size, self.flush_interval_s = batch_size, flush_interval_s
        self.dedupe_window_s, self.compact_every, self.background = dedupe_window_s, compact_every, background
        self._lock = threading.Lock()
        self._db = connect(self.path, _SCHEMA)
        self._db.execute("PRAGMA synchronous = FULL" if fsync else "PRAGMA synchronous = NORMAL")
        self._move_legacy_tables()
        self.journal_id = self._db.execute("SELECT value FROM results_meta WHERE key = 'journal'").fetchone()[0]
        self._pending = self._db.execute("SELECT COUNT(*) FROM results_journal").fetchone()[0]
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._commits = 0
        self._touched: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self.last_flush_error: str | None = None
        self._wrote = False  # a writer flushes on close; a reader leaves the journal to the writer

    @classmethod
    def from_settings(cls, settings: Settings, path: str | Path | None = None) -> ResultsDB:
        """The fleet database at ``path`` (default ``<home>/fleet.db``) with the results tables of ``settings``."""
        url = settings.fleet_results_url
        return cls(
            path if path is not None else settings.home / "fleet.db",
            ResultsStore.from_url(url, storage_options=settings.storage_options(url)),
            batch_size=settings.fleet_results_batch,
            flush_interval_s=settings.fleet_results_flush_s,
            dedupe_window_s=settings.fleet_dedupe_window_s,
            fsync=settings.fleet_journal_fsync,
        )

    # -- intake (the collector's network thread) -----------------------------------------------

    def add_result(self, result: InferenceResult, received_at: datetime | None = None) -> bool:
        """Journal a result; False (and nothing written) when its ``(device_id, sequence)`` was seen before."""
        return self._journal("results", result, received_at)

    def add_status(self, status: DeviceStatus, received_at: datetime | None = None) -> bool:
        """Journal a status report and make it the device's latest unless a newer one is known."""
        return self._journal("status", status, received_at)

    def feedback_seen(self, device_id: str, sequence: int) -> bool:
        """Whether the feedback message ``(device_id, sequence)`` was handled before."""
        with self._lock:
            sql = "SELECT 1 FROM feedback_seen WHERE device_id = ? AND sequence = ?"
            return self._db.execute(sql, (device_id, sequence)).fetchone() is not None

    def mark_feedback(self, feedback: FeedbackImage, sha256: str, received_at: datetime | None = None) -> bool:
        """Note a feedback message as handled (its image stored as ``sha256``); False if it already was."""
        with self._lock, self._write():
            return (
                self._db.execute(
                    "INSERT OR IGNORE INTO feedback_seen VALUES (?, ?, ?, ?, ?)",
                    (feedback.device_id, feedback.sequence, sha256, feedback.reason, _iso(received_at)),
                ).rowcount
                == 1
            )

    def _journal(self, kind: str, message: InferenceResult | DeviceStatus, received_at: datetime | None) -> bool:
        at = _iso(received_at)
        with self._lock, self._write():
            key = (kind, message.device_id, message.sequence, at)
            new = (
                not self._below_floor(kind, message.device_id, message.sequence)
                and self._db.execute("INSERT OR IGNORE INTO results_seen VALUES (?, ?, ?, ?)", key).rowcount
            )
            if new:
                payload = message.model_dump_json()
                self._db.execute(
                    "INSERT INTO results_journal (kind, received_at, payload) VALUES (?, ?, ?)", (kind, at, payload)
                )
                if kind == "status":
                    self._db.execute(
                        "INSERT INTO device_status VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET"
                        " sequence = excluded.sequence, time = excluded.time, received_at = excluded.received_at,"
                        " state = excluded.state, payload = excluded.payload WHERE excluded.time >= device_status.time",
                        (message.device_id, message.sequence, _iso(message.time), at, message.state, payload),
                    )
        if new:
            self._pending += 1
            self._wrote = True
            self._start_flusher()
            if self._pending >= self.batch_size:
                self._wake.set()
        return bool(new)

    # -- flushing ------------------------------------------------------------------------------

    def flush(self) -> int:
        """Move every journal row into the Delta tables, a batch per commit; the rows moved.

        Raises:
            StoreError: A table could not be written; the rows not committed stay in the journal.
        """
        moved = 0
        with self._flush_lock:
            db = connect(self.path, _SCHEMA)  # its own connection: the transaction must not take in new rows
            try:
                for kind in KINDS:
                    while True:
                        with transaction(db, self.path):
                            count = self._flush_batch(db, kind)
                        moved += count
                        if count < self.batch_size:
                            break
                self._forget_seen(db)
                self._pending = db.execute("SELECT COUNT(*) FROM results_journal").fetchone()[0]
            finally:
                db.close()
            self._maybe_compact()
        return moved

    def _below_floor(self, kind: str, device_id: str, sequence: int) -> bool:
        """Whether ``sequence`` is at or below the device's highest forgotten one (inside the write transaction)."""
        sql = "SELECT sequence FROM results_floor WHERE kind = ? AND device_id = ?"
        floor = self._db.execute(sql, (kind, device_id)).fetchone()
        if floor is None or sequence > floor[0]:
            return False
        log.info("dropped %s %s/%d: at or below the sequences forgotten (%d)", kind, device_id, sequence, floor[0])
        return True

    def _forget_seen(self, db: sqlite3.Connection) -> None:
        """Forget the keys older than the window, raising each device's floor to the highest one forgotten."""
        cutoff = _iso(datetime.now(timezone.utc) - timedelta(seconds=self.dedupe_window_s))
        with transaction(db, self.path):
            db.execute(
                "INSERT INTO results_floor (kind, device_id, sequence) SELECT kind, device_id, MAX(sequence)"
                " FROM results_seen WHERE received_at < ? GROUP BY kind, device_id"
                " ON CONFLICT (kind, device_id) DO UPDATE SET sequence = max(sequence, excluded.sequence)",
                (cutoff,),
            )
            db.execute("DELETE FROM results_seen WHERE received_at < ?", (cutoff,))

    def _flush_batch(self, db: sqlite3.Connection, kind: str) -> int:
        """Inside the journal's write transaction: drop what the table already holds, commit one batch, drop it."""
        committed = self.store.committed_upto(kind, self.journal_id)
        db.execute("DELETE FROM results_journal WHERE kind = ? AND id <= ?", (kind, committed))
        rows = db.execute(
            "SELECT id, received_at, payload FROM results_journal WHERE kind = ? ORDER BY id LIMIT ?",
            (kind, self.batch_size),
        ).fetchall()
        if not rows:
            return 0
        table = to_table(kind, [_ROW[kind](_PARSE[kind](p), datetime.fromisoformat(r)) for _, r, p in rows])
        upto = rows[-1][0]
        self.store.append(kind, table, journal=self.journal_id, upto=upto)
        db.execute("DELETE FROM results_journal WHERE kind = ? AND id <= ?", (kind, upto))
        self._commits += 1
        self._touched[kind].update(table.column("day").unique().to_pylist())
        return len(rows)

    def _maybe_compact(self) -> None:
        if self.compact_every <= 0 or self._commits < self.compact_every:
            return
        for kind, days in self._touched.items():
            self.store.compact(kind, sorted(days))
            self.store.vacuum(kind)  # the files compacted a week ago and more
            days.clear()
        self._commits = 0

    def _start_flusher(self) -> None:
        if self.background and self._flusher is None and not self._stopping.is_set():
            self._flusher = threading.Thread(target=self._flush_loop, name="results-flusher", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
                self.last_flush_error = None
            except StoreError as exc:  # the rows wait in the journal; the next round tries again
                self.last_flush_error = exc.message
                log.warning("flushing the results journal failed: %s", exc.message)
                self._stopping.wait(self.flush_interval_s)

    # -- reading -------------------------------------------------------------------------------

    def frame(self, kind: str, day: str | None = None) -> pl.LazyFrame | None:
        """The rows of ``kind`` (``results``/``status``), of one ``day`` when given: the table plus the journal."""
        parts = []
        stored = self.store.scan(kind)
        if stored is not None:
            parts.append(stored if day is None else stored.filter(pl.col("day") == day))
        pending = self._journal_rows(kind, day)
        if pending is not None:
            parts.append(pending)
        return pl.concat(parts, how="vertical_relaxed") if parts else None

    def days(self, kind: str = "results") -> list[str]:
        """The days that hold rows of ``kind``, oldest first."""
        table = self.store.open(kind)
        days = {p["day"] for p in table.partitions()} if table is not None else set()
        pending = self._journal_rows(kind)
        if pending is not None:
            days |= set(pending.select("day").collect()["day"].to_list())
        return sorted(days)

    def results(
        self,
        device: str | None = None,
        limit: int = 50,
        *,
        verdict: str | None = None,
        model_version: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StoredResult]:
        """The newest ``limit`` results (0: all) by device time, newest first, filtered as named."""
        where = query.ResultFilter((device,) if device else (), verdict, model_version, since, until)
        return stored_results(self.page(where, limit))

    def page(self, where: query.ResultFilter, limit: int = 50, after: query.Cursor | None = None) -> query.Page:
        """One page of :func:`~qiloop.fleet.results_query.recent_results`, from the table and the journal."""
        return query.recent_results(lambda day: self.frame("results", day), self.days(), where, limit, after)

    def series(
        self, devices: list[str], since: datetime, until: datetime, bucket: timedelta
    ) -> list[query.SeriesPoint]:
        """Per-bucket images, defect rate, latency p50/p95, outbox depth and drops of ``devices`` (all when empty)."""
        return query.series(self.frame("results"), self.frame("status"), devices, since, until, bucket)

    def latest_status(self) -> dict[str, DeviceStatus]:
        """The newest status report of every device that sent one."""
        with self._lock:
            rows = self._db.execute("SELECT device_id, payload FROM device_status ORDER BY device_id").fetchall()
        return {d: DeviceStatus.model_validate_json(p) for d, p in rows}

    def last_seen(self) -> dict[str, datetime]:
        """When each device's latest status report arrived (by this side's clock)."""
        with self._lock:
            rows = self._db.execute("SELECT device_id, received_at FROM device_status").fetchall()
        return {d: datetime.fromisoformat(at) for d, at in rows}

    def status_reports(self, device_id: str) -> list[DeviceStatus]:
        """Every status report of one device, oldest first."""
        frame = self.frame("status")
        if frame is None:
            return []
        rows = frame.filter(pl.col("device_id") == device_id).sort("time", "sequence").select("payload").collect()
        return [DeviceStatus.model_validate_json(p) for p in rows["payload"]]

    def counts(self) -> dict[str, int]:
        """Rows stored: ``results``, ``status_reports``, ``devices`` (with a status), ``feedback``, ``pending``."""
        out = {"results": 0, "status_reports": 0}
        for kind, key in (("results", "results"), ("status", "status_reports")):
            frame = self.frame(kind)
            out[key] = 0 if frame is None else int(frame.select(pl.len()).collect().item())
        with self._lock:
            out["devices"] = self._db.execute("SELECT COUNT(*) FROM device_status").fetchone()[0]
            out["feedback"] = self._db.execute("SELECT COUNT(*) FROM feedback_seen").fetchone()[0]
        return out

    def pending(self) -> int:
        """Journal rows not yet in the Delta tables."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM results_journal").fetchone()[0]

    def _journal_rows(self, kind: str, day: str | None = None) -> pl.LazyFrame | None:
        """The journal's rows of ``kind`` that the table does not hold yet, as table rows."""
        with self._lock:
            waiting = self._db.execute("SELECT 1 FROM results_journal WHERE kind = ? LIMIT 1", (kind,)).fetchone()
        if waiting is None:  # the usual case for a reader: no need to look at the table's log
            return None
        committed = self.store.committed_upto(kind, self.journal_id)
        with self._lock:
            rows = self._db.execute(
                "SELECT received_at, payload FROM results_journal WHERE kind = ? AND id > ? ORDER BY id",
                (kind, committed),
            ).fetchall()
        built = [_ROW[kind](_PARSE[kind](p), datetime.fromisoformat(r)) for r, p in rows]
        built = [row for row in built if day is None or row["day"] == day]
        return pl.from_arrow(to_table(kind, built)).lazy() if built else None

    # -- life ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the flusher; a writer flushes the journal (what fails stays there for the next run); close."""
        self._stopping.set()
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join()
        if self._wrote and self._pending:
            try:
                self.flush()
            except StoreError as exc:
                log.warning("the results journal keeps %d rows for the next run: %s", self._pending, exc.message)
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self):
        return transaction(self._db, self.path)

    def _move_legacy_tables(self) -> None:
        """Move the rows of a one-file fleet.db (results, status_reports) into the journal, once."""
        names = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, statements in _LEGACY.items():
            if table in names:
                with self._write():
                    for sql in statements:
                        self._db.execute(sql)


def stored_results(page: query.Page) -> list[StoredResult]:
    """The rows of a results page as the devices' messages."""
    if page.rows.is_empty():
        return []
    return [
        StoredResult(at, InferenceResult.model_validate_json(payload))
        for at, payload in page.rows.select("received_at", "payload").iter_rows()
    ]


def _iso(value: datetime | None) -> str:
    """UTC ISO 8601 with a fixed width, so text order is time order."""
    value = value or datetime.now(timezone.utc)
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
