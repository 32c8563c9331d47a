"""Which devices are online: heard from within the offline timeout.

A device is heard from when any of its messages arrives: the inference app's
status reports (stored by the collector, :meth:`ResultsDB.last_seen`) and the
nucleus's hello and deployment reports (the controller's registry,
:attr:`DeviceRow.seen_at`). Both clocks are this side's arrival times, so a
device with a wrong clock is judged by when its messages came, not what they say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Presence:
    """One device's heartbeat: when it was last heard from and whether that is within the timeout."""

    device_id: str
    last_seen: datetime | None
    online: bool
    silent_s: float | None


def presence(last_seen: Mapping[str, datetime | None], now: datetime, timeout_s: float) -> list[Presence]:
    """Every device of ``last_seen`` as online (heard from less than ``timeout_s`` before ``now``) or offline.

    Example:
        >>> t = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
        >>> [p.online for p in presence({"a": t, "b": None}, t, 60)]
        [True, False]
    """
    out = []
    for device_id in sorted(last_seen):
        seen = last_seen[device_id]
        silent = None if seen is None else max(0.0, (now - seen).total_seconds())
        out.append(Presence(device_id, seen, silent is not None and silent < timeout_s, silent))
    return out


def merge_last_seen(*sources: Mapping[str, datetime | None]) -> dict[str, datetime | None]:
    """The latest time per device over several sources (a device absent from one keeps the other's)."""
    merged: dict[str, datetime | None] = {}
    for source in sources:
        for device_id, seen in source.items():
            known = merged.get(device_id)
            merged[device_id] = seen if known is None or (seen is not None and seen > known) else known
    return merged


def registry_last_seen(devices: Iterable) -> dict[str, datetime | None]:
    """Last seen per device from the controller's registry rows (``device_id``, ``seen_at`` epoch seconds)."""
    return {d.device_id: datetime.fromtimestamp(d.seen_at, tz=timezone.utc) for d in devices}


def fleet_presence(settings, *, now: datetime | None = None, results=None, registry=None) -> list[Presence]:
    """Online/offline for every device the fleet database knows, with the configured timeout.

    Args:
        settings: Gives ``fleet_offline_after_s`` and, when ``results``/``registry`` are not
            passed, the fleet database to open.
        results: An open :class:`~qiloop.fleet.results_db.ResultsDB` (status arrivals).
        registry: An open :class:`~qiloop.fleet.registry_db.FleetDB` (hellos and reports).
    """
    from qiloop.fleet.registry_db import FleetDB
    from qiloop.fleet.results_db import ResultsDB

    now = now or datetime.now(timezone.utc)
    own_results, own_registry = results is None, registry is None
    results = results or ResultsDB.from_settings(settings)
    registry = registry or FleetDB.from_settings(settings)
    try:
        seen = merge_last_seen(registry_last_seen(registry.devices()), results.last_seen())
    finally:
        if own_results:
            results.close()
        if own_registry:
            registry.close()
    return presence(seen, now, settings.fleet_offline_after_s)
