"""What the app has done so far: running counters and latency percentiles, as a status message.

The loop records into :class:`RunningStats` from its thread while the status
thread reads it, so every access holds one lock; latencies are kept over a
bounded window (the most recent ``window`` images), so a device that runs for
months reports how fast it is now, in constant memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from qiloop.edge.inference.outbox import OutboxStats
from qiloop.protocol.messages import DeviceStatus


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation, like ``numpy.percentile``; ``None`` if empty.

    Example:
        >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
        2.5
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Snapshot:
    """The counters at one moment (what a status message and the final summary report)."""

    uptime_s: float
    images_processed: int
    images_rejected: int
    defects: int
    feedback_sent: int
    duplicates: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    @property
    def defect_rate(self) -> float:
        return self.defects / self.images_processed if self.images_processed else 0.0


class RunningStats:
    """Thread-safe counters of one app run.

    Args:
        window: How many recent latencies the percentiles are computed over.
        clock: Monotonic clock (injectable for tests).
    """

    def __init__(self, window: int = 1000, clock=time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=window)
        self.processed = self.rejected = self.defects = self.feedback = self.duplicates = 0

    def record(self, latency_ms: float, *, defect: bool, feedback: bool = False, duplicate: bool = False) -> None:
        """Count one inspected image."""
        with self._lock:
            self.processed += 1
            self.defects += int(defect)
            self.feedback += int(feedback)
            self.duplicates += int(duplicate)
            self._latencies.append(latency_ms)

    def reject(self) -> None:
        """Count one image that could not be read."""
        with self._lock:
            self.rejected += 1

    @property
    def taken(self) -> int:
        """Images taken from the source so far: inspected plus rejected."""
        with self._lock:
            return self.processed + self.rejected

    def snapshot(self) -> Snapshot:
        """The counters and the window's p50/p95 latency, read together."""
        with self._lock:
            window = list(self._latencies)
            counts = (self.processed, self.rejected, self.defects, self.feedback, self.duplicates)
        p50, p95 = percentile(window, 50), percentile(window, 95)
        return Snapshot(
            self._clock() - self._started, *counts,
            latency_p50_ms=None if p50 is None else round(p50, 3),
            latency_p95_ms=None if p95 is None else round(p95, 3),
        )  # fmt: skip

    def status(self, device_id: str, state: str, *, model_name: str, model_version: str, outbox: OutboxStats):
        """A :class:`DeviceStatus` with these counters and the outbox's."""
        s = self.snapshot()
        return DeviceStatus(
            device_id=device_id, state=state, model_name=model_name, model_version=model_version,
            uptime_s=round(s.uptime_s, 3), images_processed=s.images_processed, images_rejected=s.images_rejected,
            defects=s.defects, defect_rate=round(s.defect_rate, 6), latency_p50_ms=s.latency_p50_ms,
            latency_p95_ms=s.latency_p95_ms, feedback_sent=s.feedback_sent, outbox_depth=outbox.depth,
            outbox_dropped=outbox.total("dropped"), outbox_refused=outbox.total("refused"),
        )  # fmt: skip
