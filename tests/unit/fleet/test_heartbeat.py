"""Heartbeats: online while heard from within the timeout, from status arrivals and the controller's registry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from qiloop.fleet.heartbeat import fleet_presence, merge_last_seen, presence
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.messages import DeviceStatus
from qiloop.protocol.reports import DeviceHello
from qiloop.settings import Settings

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("silent_s", "timeout_s", "online"),
    [(0, 60, True), (59.9, 60, True), (60, 60, False), (3600, 60, False), (-5, 60, True)],  # -5: clock ahead
)
def test_a_device_is_online_while_heard_from_within_the_timeout(silent_s, timeout_s, online):
    (p,) = presence({"cam-1": NOW - timedelta(seconds=silent_s)}, NOW, timeout_s)
    assert p.online is online
    assert p.silent_s == pytest.approx(max(0.0, silent_s))


def test_a_device_never_heard_from_is_offline():
    (p,) = presence({"cam-1": None}, NOW, 60)
    assert (p.online, p.last_seen, p.silent_s) == (False, None, None)


def test_the_latest_source_wins():
    early, late = NOW - timedelta(minutes=5), NOW - timedelta(seconds=5)
    merged = merge_last_seen({"a": early, "b": late}, {"a": late, "b": None, "c": early})
    assert merged == {"a": late, "b": late, "c": early}


def test_fleet_presence_reads_both_databases_with_the_configured_timeout(tmp_path):
    settings = Settings(home=tmp_path, fleet_offline_after_s=30)
    registry = FleetDB.from_settings(settings)
    registry.add_hello(DeviceHello(device_id="cam-1", groups=["line-a"]), at=(NOW - timedelta(minutes=10)).timestamp())
    registry.add_hello(DeviceHello(device_id="cam-2", groups=["line-a"]), at=(NOW - timedelta(seconds=10)).timestamp())
    results = ResultsDB.from_settings(settings)
    results.add_status(DeviceStatus(device_id="cam-1", sequence=1), received_at=NOW - timedelta(seconds=5))
    results.add_status(DeviceStatus(device_id="cam-3", sequence=1), received_at=NOW - timedelta(minutes=2))
    found = {p.device_id: p.online for p in fleet_presence(settings, now=NOW, results=results, registry=registry)}
    assert found == {"cam-1": True, "cam-2": True, "cam-3": False}
    results.close()
    registry.close()
    later = {p.device_id: p.online for p in fleet_presence(settings, now=NOW + timedelta(seconds=25))}
    assert later == {"cam-1": False, "cam-2": False, "cam-3": False}
