"""Streaming detectors on what devices see: confidences drifting, defect rate jumping.

- :class:`ConfidenceDrift` runs river's ADWIN (an adaptive window that drops its
  older part when the two parts' means differ beyond a Hoeffding bound at
  confidence ``delta``) on each device's stream of detection scores. A new camera
  angle, lighting or product shows as scores sliding while the verdicts may still
  look fine.
- :class:`DefectRateJump` compares a device's (or line's) last ``window`` verdicts
  with the ``baseline`` before them; a jump is a rate at least ``min_increase``
  above the baseline and ``factor`` times it. The baseline is frozen while the
  jump lasts, so it ends when the rate comes back, not when it becomes normal.

Both keep a few numbers per subject, are fed on the collector's thread, and are
not thread-safe on their own (the watcher feeds them from one thread).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal


def _adwin(delta: float) -> Any:
    try:
        from river import drift
    except ImportError as exc:
        from qiloop.core.errors import ConfigurationError

        raise ConfigurationError("confidence drift detection needs river", hint="pip install 'qiloop[fleet]'") from exc
    return drift.ADWIN(delta=delta)


@dataclass(frozen=True)
class DriftEvent:
    """A change in a device's confidence stream: mean score before and after, after ``samples`` scores."""

    device_id: str
    samples: int
    mean_before: float
    mean_after: float


@dataclass
class _Stream:
    detector: Any
    samples: int = 0


class ConfidenceDrift:
    """Per-device drift detection on detection scores.

    Args:
        delta: ADWIN's confidence; smaller means fewer false alarms and later detection.
        min_samples: Scores a device must have sent before a change counts (the start is noisy).
        detector: Makes one detector per device (default ADWIN(``delta``)); any object with
            river's ``update(x)``, ``drift_detected`` and ``estimation``.
    """

    def __init__(self, *, delta: float = 0.002, min_samples: int = 200, detector: Callable[[], Any] | None = None):
        self.min_samples = min_samples
        self._make = detector or (lambda: _adwin(delta))
        self._make()  # a missing river fails here, at start, not on the first result
        self._streams: dict[str, _Stream] = {}

    def update(self, device_id: str, scores: Iterable[float]) -> DriftEvent | None:
        """Feed a result's scores; the first change they reveal, or None."""
        stream = self._streams.get(device_id)
        if stream is None:
            stream = self._streams[device_id] = _Stream(self._make())
        event = None
        for score in scores:
            before = stream.detector.estimation
            stream.detector.update(float(score))
            stream.samples += 1
            if stream.detector.drift_detected and stream.samples >= self.min_samples and event is None:
                event = DriftEvent(device_id, stream.samples, float(before), float(stream.detector.estimation))
        return event


@dataclass
class _Rates:
    recent: deque = field(default_factory=deque)
    baseline: deque = field(default_factory=deque)
    recent_fails: int = 0
    baseline_fails: int = 0
    jumped: bool = False


@dataclass(frozen=True)
class RateChange:
    """A subject's defect rate crossing into a jump (``start``) or back (``end``)."""

    subject: str
    change: Literal["start", "end"]
    recent_rate: float
    baseline_rate: float


class DefectRateJump:
    """Defect rate jumps per subject (a device id, or ``line:<group>``).

    Args:
        window: Recent verdicts compared.
        baseline: Verdicts before them that make the baseline (at least ``window`` needed).
        min_increase: Least absolute rise that counts (0.1: ten points).
        factor: Least relative rise that counts.
    """

    def __init__(self, *, window: int = 200, baseline: int = 2000, min_increase: float = 0.1, factor: float = 2.0):
        if window < 1 or baseline < window:
            raise ValueError("defect-rate windows need window >= 1 and baseline >= window")
        self.window, self.baseline, self.min_increase, self.factor = window, baseline, min_increase, factor
        self._subjects: dict[str, _Rates] = {}

    def update(self, subject: str, failed: bool) -> RateChange | None:
        """Feed one verdict; a :class:`RateChange` when the subject enters or leaves a jump."""
        r = self._subjects.setdefault(subject, _Rates())
        r.recent.append(failed)
        r.recent_fails += failed
        if len(r.recent) > self.window:
            old = r.recent.popleft()
            r.recent_fails -= old
            if not r.jumped:  # the baseline is frozen during a jump
                r.baseline.append(old)
                r.baseline_fails += old
                if len(r.baseline) > self.baseline:
                    r.baseline_fails -= r.baseline.popleft()
        if len(r.recent) < self.window or len(r.baseline) < self.window:
            return None
        recent, base = r.recent_fails / len(r.recent), r.baseline_fails / len(r.baseline)
        high = recent >= base + self.min_increase and recent >= base * self.factor
        if high and not r.jumped:
            r.jumped = True
            return RateChange(subject, "start", recent, base)
        if r.jumped and recent <= base + self.min_increase / 2:
            r.jumped = False
            return RateChange(subject, "end", recent, base)
        return None
