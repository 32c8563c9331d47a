"""The fleet watcher: turns heartbeats, status reports, result streams and rollouts into alerts.

Two inputs:

- :meth:`FleetWatch.observe`, the collector's ``on_result`` callback: each stored
  result feeds the device's confidence-drift detector and the defect-rate
  detectors of the device and of its lines (the groups it said hello with). It
  only updates a few numbers and queues what changed; alerts are raised on the
  watcher's own thread, so a slow webhook or a labelling job never holds up the
  collector's acknowledgements.
- :meth:`FleetWatch.check`, every ``check_every_s`` on that thread: devices
  silent for longer than the offline timeout, outboxes growing over successive
  status reports, rollouts that ended ABORTED; plus the queued stream changes.

Conditions that clear (a device back online, an outbox draining, a defect rate
back to its baseline) resolve their alert; drift and rollout alerts stay until a
person resolves them (``qiloop fleet alerts resolve``).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from qiloop.fleet.alerts import Alert, AlertKind, Alerts
from qiloop.fleet.drift import ConfidenceDrift, DefectRateJump, DriftEvent, RateChange
from qiloop.fleet.heartbeat import merge_last_seen, presence, registry_last_seen
from qiloop.protocol.messages import InferenceResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchRules:
    """What counts as wrong. Defaults suit a line inspecting about an image a second per device."""

    offline_after_s: float = 120.0
    outbox_reports: int = 5  # successive status reports with a growing outbox
    outbox_min_depth: int = 100  # ...that end at least this deep
    defect_window: int = 200
    defect_baseline: int = 2000
    defect_min_increase: float = 0.1
    defect_factor: float = 2.0
    drift_delta: float = 0.002
    drift_min_samples: int = 200
    check_every_s: float = 10.0

    @classmethod
    def from_settings(cls, settings, **changes) -> WatchRules:
        return cls(offline_after_s=settings.fleet_offline_after_s, **changes)


class FleetWatch:
    """Raises and clears fleet alerts from what the collector stores and the controller knows.

    Args:
        alerts: Where alerts go (store, metrics, webhook, labelling trigger).
        results: The :class:`~qiloop.fleet.results_db.ResultsDB` (status arrivals and reports).
        registry: The controller's :class:`~qiloop.fleet.registry_db.FleetDB` (hellos, groups, rollouts), or None.
        rules: The thresholds.
        drift: The confidence-drift detector (default from ``rules``).
    """

    def __init__(self, alerts: Alerts, results, registry=None, rules: WatchRules | None = None, *,
                 drift: ConfidenceDrift | None = None) -> None:  # fmt: skip
        self.alerts, self.results, self.registry = alerts, results, registry
        self.rules = rules = rules or WatchRules()
        self.drift = drift or ConfidenceDrift(delta=rules.drift_delta, min_samples=rules.drift_min_samples)
        self.rates = DefectRateJump(window=rules.defect_window, baseline=rules.defect_baseline,
                                    min_increase=rules.defect_min_increase, factor=rules.defect_factor)  # fmt: skip
        self._lock = threading.Lock()
        self._events: deque[DriftEvent | RateChange] = deque()
        self._lines: dict[str, list[str]] = {}
        self._outbox: dict[str, deque[tuple[int, int]]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- stream (the collector's thread) ---------------------------------------------------------

    def observe(self, result: InferenceResult) -> None:
        """Feed one stored result to the detectors (the collector's ``on_result`` callback)."""
        failed = result.verdict == "fail"
        with self._lock:
            event = self.drift.update(result.device_id, (d.score for d in result.detections))
            if event is not None:
                self._events.append(event)
            for subject in (result.device_id, *(f"line:{g}" for g in self._lines.get(result.device_id, ()))):
                change = self.rates.update(subject, failed)
                if change is not None:
                    self._events.append(change)

    # -- checks (the watcher's thread) -----------------------------------------------------------

    def check(self, now: datetime | None = None) -> list[Alert]:
        """Run every check once and raise or clear alerts; the alerts newly opened."""
        now = now or datetime.now(timezone.utc)
        opened: list[Alert | None] = []
        devices = self.registry.devices() if self.registry is not None else []
        with self._lock:
            self._lines = {d.device_id: list(d.groups) for d in devices}
            events = list(self._events)
            self._events.clear()
        opened += [self._on_event(e) for e in events]
        opened += self._check_offline(now, devices)
        opened += self._check_outboxes()
        opened += self._check_rollouts()
        if self.alerts.metrics is not None:
            self.alerts.metrics.sync_open(self.alerts.store)
        return [a for a in opened if a is not None]

    def _on_event(self, event: DriftEvent | RateChange) -> Alert | None:
        if isinstance(event, DriftEvent):
            return self.alerts.raise_(
                AlertKind.CONFIDENCE_DRIFT, event.device_id,
                f"detection confidence moved from {event.mean_before:.2f} to {event.mean_after:.2f} on average",
                details={"mean_before": event.mean_before, "mean_after": event.mean_after, "samples": event.samples},
            )  # fmt: skip
        rates = {"recent_rate": event.recent_rate, "baseline_rate": event.baseline_rate}
        if event.change == "end":
            self.alerts.clear(AlertKind.DEFECT_RATE, event.subject, f"defect rate back to {event.recent_rate:.1%}")
            return None
        return self.alerts.raise_(
            AlertKind.DEFECT_RATE, event.subject,
            f"defect rate {event.recent_rate:.1%} over the last {self.rules.defect_window} results,"
            f" against {event.baseline_rate:.1%} before", details=rates,
        )  # fmt: skip

    def _check_offline(self, now: datetime, devices) -> list[Alert | None]:
        seen = merge_last_seen(registry_last_seen(devices), self.results.last_seen())
        opened = []
        for p in presence(seen, now, self.rules.offline_after_s):
            if p.online:
                self.alerts.clear(AlertKind.DEVICE_OFFLINE, p.device_id, "heard from again")
                continue
            last = f"last heard from {p.last_seen:%Y-%m-%d %H:%M:%S} UTC" if p.last_seen else "never heard from"
            opened.append(self.alerts.raise_(
                AlertKind.DEVICE_OFFLINE, p.device_id, f"offline: {last} ({p.silent_s or 0:.0f} s ago)",
                details={"last_seen": p.last_seen.isoformat() if p.last_seen else None,
                         "timeout_s": self.rules.offline_after_s},
            ))  # fmt: skip
        return opened

    def _check_outboxes(self) -> list[Alert | None]:
        opened = []
        n, floor = self.rules.outbox_reports, self.rules.outbox_min_depth
        for device_id, status in self.results.latest_status().items():
            history = self._outbox.setdefault(device_id, deque(maxlen=n))
            if not history or history[-1][0] != status.sequence:
                history.append((status.sequence or 0, status.outbox_depth))
            depths = [d for _, d in history]
            if len(depths) == n and depths[-1] >= floor and depths[-1] > depths[0] and _non_decreasing(depths):
                opened.append(self.alerts.raise_(
                    AlertKind.OUTBOX_GROWING, device_id,
                    f"outbox grew from {depths[0]} to {depths[-1]} messages over {n} status reports"
                    f" ({status.outbox_dropped} dropped so far)",
                    details={"depths": depths, "dropped": status.outbox_dropped},
                ))  # fmt: skip
            elif depths and (depths[-1] < floor or not _non_decreasing(depths[-2:])):
                self.alerts.clear(AlertKind.OUTBOX_GROWING, device_id, f"outbox at {depths[-1]} and draining")
        return opened

    def _check_rollouts(self) -> list[Alert | None]:
        if self.registry is None:
            return []
        opened = []
        for rollout in self.registry.rollouts(limit=20):
            if rollout.phase.value != "ABORTED":
                continue
            subject = f"rollout:{rollout.id}"
            if self.alerts.store.list(kind=AlertKind.ROLLOUT_FAILED, subject=subject, limit=1):
                continue  # alerted once already, open or resolved
            failed = sorted(d for d, state in rollout.outcome.items() if state != "SUCCEEDED")
            opened.append(self.alerts.raise_(
                AlertKind.ROLLOUT_FAILED, subject,
                f"rollout to {rollout.target} aborted: {rollout.reason or 'no reason recorded'}",
                severity="critical",
                details={"target": str(rollout.target), "failed_devices": failed, "reason": rollout.reason},
            ))  # fmt: skip
        return opened

    # -- life ------------------------------------------------------------------------------------

    def start(self) -> FleetWatch:
        """Check every ``rules.check_every_s`` on a background thread until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fleet-watch", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self.rules.check_every_s):
            try:
                self.check()
            except Exception:  # a failed round (a database busy) is logged; the next round tries again
                log.exception("a fleet check failed")


def _non_decreasing(values: list[int]) -> bool:
    return all(b >= a for a, b in itertools.pairwise(values))


@contextlib.contextmanager
def watching(collector, settings, registry=None) -> Iterator[FleetWatch]:
    """Run a :class:`FleetWatch` on ``collector``'s results for the block (``qiloop collect``, the fleet service).

    Args:
        collector: A started or starting :class:`~qiloop.fleet.collector.Collector`; its results database is read.
        settings: Alerts, listeners and rules come from it.
        registry: The controller's :class:`~qiloop.fleet.registry_db.FleetDB` (default: opened from ``settings``).
    """
    from qiloop.fleet.registry_db import FleetDB

    stoppable: list = []
    alerts = build_alerts(settings, on_listener=stoppable.append)
    own = registry is None
    registry = registry if registry is not None else FleetDB.from_settings(settings)
    watch = FleetWatch(alerts, collector.intake.db, registry, WatchRules.from_settings(settings))
    collector.on_result(watch.observe)
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()
        for listener in stoppable:
            listener.stop()
        if own:
            registry.close()
        alerts.store.close()


def build_alerts(settings, *, metrics_registry=None, webhook: bool = True, labeling: bool | None = None,
                 on_listener: Callable[[object], None] | None = None) -> Alerts:  # fmt: skip
    """The alerts of ``settings``: the store in ``fleet.db``, Prometheus counters, and the configured listeners.

    The webhook listener (when ``fleet_alert_webhook_url`` is set) is started here; pass
    ``on_listener`` to receive each listener that needs stopping (it has a ``stop``).
    """
    from qiloop.fleet.alerts import AlertMetrics, AlertStore

    try:
        metrics = AlertMetrics(metrics_registry)
    except ImportError:
        log.warning("prometheus_client is not installed: fleet alerts are not counted as metrics")
        metrics = None
    alerts = Alerts(AlertStore.from_settings(settings), metrics)
    if webhook and settings.fleet_alert_webhook_url:
        from qiloop.fleet.webhook import WebhookNotifier

        notifier = WebhookNotifier(settings.fleet_alert_webhook_url).start()
        alerts.listeners.append(notifier)
        if on_listener is not None:
            on_listener(notifier)
    if settings.fleet_alert_labeling if labeling is None else labeling:
        from qiloop.fleet.alert_labeling import LabelingTrigger

        alerts.listeners.append(LabelingTrigger.from_settings(settings))
    return alerts
