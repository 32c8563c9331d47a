"""What the Fleet pages show: devices (online or not, versions, last deployment), rollouts, charts over time.

Online or offline is the fleet's own heartbeat rule (:func:`qiloop.fleet.heartbeat.fleet_presence`:
heard from within ``fleet_offline_after_s``); the charts are the results store's
per-bucket series (:meth:`ResultsDB.series`), for one device or a line (a group).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from qiloop.console.charts import Chart, Series, line_chart

MAX_POINTS = 240  # buckets per chart: a window of 24 h is drawn in 6-minute buckets


@dataclass(frozen=True)
class DeviceView:
    """A device as the controller knows it, whether it is online, and its newest status report."""

    row: Any  # fleet.registry_db.DeviceRow
    presence: Any  # fleet.heartbeat.Presence
    status: Any | None  # DeviceStatus

    @property
    def online(self) -> bool:
        return bool(self.presence is not None and self.presence.online)


def devices(sources) -> list[DeviceView]:
    """Every device by id, with its heartbeat and newest status (empty without a fleet)."""
    fleet, results = sources.fleet(), sources.results()
    if fleet is None or results is None:
        return []
    presence = sources.presence()
    latest = results.latest_status()
    return [DeviceView(d, presence.get(d.device_id), latest.get(d.device_id)) for d in fleet.devices()]


@dataclass(frozen=True)
class RolloutView:
    """A rollout and the state of each of its devices (final outcome, else its latest report, else waiting)."""

    rollout: Any  # fleet.rollout.Rollout
    states: list[tuple[str, str, str]]  # (device, state, detail)


def rollouts(fleet_db, limit: int = 20) -> list[RolloutView]:
    """The newest rollouts with each device's state."""
    found = fleet_db.rollouts(limit=limit)
    by_device = {d.device_id: d for d in fleet_db.devices()}
    out = []
    for rollout in found:
        ids = set(rollout.deployments.values())
        states = []
        for device in rollout.devices:
            row = by_device.get(device)
            if device in rollout.outcome:
                states.append((device, rollout.outcome[device], ""))
            elif row is not None and row.report_deployment in ids and row.report_state:
                states.append((device, row.report_state, row.report_detail or ""))
            else:
                states.append((device, "waiting", ""))
        out.append(RolloutView(rollout, states))
    return out


def bucket_for(window: timedelta) -> timedelta:
    """A bucket that draws ``window`` in at most :data:`MAX_POINTS` points, a whole number of minutes (≥ 1).

    Example:
        >>> bucket_for(timedelta(hours=24))
        datetime.timedelta(seconds=360)
    """
    minutes = max(1, -(-int(window.total_seconds()) // (60 * MAX_POINTS)))
    return timedelta(minutes=minutes)


def charts(results_db, devices: list[str], window: timedelta, now: datetime | None = None) -> list[Chart]:
    """Images inspected, defect rate, latency p50/p95, outbox depth and drops of ``devices`` over ``window``."""
    until = now or datetime.now(timezone.utc)
    points = results_db.series(devices, until - window, until, bucket_for(window))
    t = [p.start.timestamp() for p in points]
    fmt = _clock if window <= timedelta(days=1) else _day

    def of(name: str) -> list[tuple[float, float | None]]:
        return list(zip(t, [getattr(p, name) for p in points], strict=True))

    def chart(title: str, series: list[Series], **kw) -> Chart:
        return line_chart(series, title=title, x_format=fmt, y_min=0, width=480, height=200, **kw)

    return [
        chart("Images inspected per bucket", [Series("images", of("images"))]),
        chart("Defect rate", [Series("defect rate", of("defect_rate"))], y_format=lambda y: f"{y:.0%}"),
        chart("Latency (ms)", [Series("p50", of("latency_p50_ms")), Series("p95", of("latency_p95_ms"))]),
        chart("Outbox depth", [Series("depth", of("outbox_depth"))]),
        chart("Messages dropped by the outbox", [Series("dropped", of("dropped"))]),
    ]


def _clock(x: float) -> str:
    return datetime.fromtimestamp(x, tz=timezone.utc).strftime("%H:%M")


def _day(x: float) -> str:
    return datetime.fromtimestamp(x, tz=timezone.utc).strftime("%m-%d %H:%M")


def alerts(sources, *, device: str | None = None, limit: int = 50) -> list[Any]:
    """Open alerts first, then the newest resolved ones (of one ``device`` when given)."""
    store = sources.alerts()
    if store is None:
        return []
    found = store.list(subject=device, limit=limit)
    return sorted(found, key=lambda a: (a.resolved_at is not None, -(a.id or 0)))
