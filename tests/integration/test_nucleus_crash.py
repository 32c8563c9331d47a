"""SIGKILL of the nucleus at every step of an install: the device always ends on a whole version.

A device runs model 1 + code 1; deployment 2 brings model 2 + code 2. For each
failpoint the nucleus kills itself there (``QILOOP_AGENT_FAILPOINT``), then a fresh
nucleus starts on the same home. Every run must end with deployment 2 SUCCEEDED (or,
for the failing deployment killed mid-rollback, FAILED_ROLLBACK_COMPLETE), exactly
one final state, the running set either wholly old or wholly new, every running
version completely installed, and exactly one app process serving it.

Runs per point: ``QILOOP_FAILPOINT_RUNS`` (default 1; the acceptance run uses 10).
"""

from __future__ import annotations

import os
import sqlite3
import uuid

import pytest

from mqtt_helpers import require_broker
from nucleus_helpers import Device, Fleet, model_packages
from qiloop.core.components import Component
from qiloop.edge.agent.download import sha256_file
from qiloop.edge.agent.failpoint import POINTS

pytestmark = [pytest.mark.broker, pytest.mark.slow]
RUNS = int(os.environ.get("QILOOP_FAILPOINT_RUNS", "1"))
OLD, NEW = {"code": "1", "model": "1"}, {"code": "2", "model": "2"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    pytest.importorskip("ultralytics", reason="building test models needs the train extra")
    require_broker()
    packages = model_packages(tmp_path_factory.getbasetemp() / "nucleus-models")
    root = tmp_path_factory.mktemp("crash")
    fleet = Fleet(root / "fleet", "mqtt://127.0.0.1:1883")
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    model1, model2 = fleet.model(packages["1"]), fleet.model(packages["2"])
    template = Device(fleet, root / "template", device_id).start()
    first = fleet.publish(fleet.deployment(device_id, model1, fleet.code("1")))
    assert template.wait_final(first.id).state.value == "SUCCEEDED", template.log_tail()
    template.wait_serving("1", "1")
    assert template.stop() == 0
    upgrade = fleet.deployment(device_id, model2, fleet.code("2"), sequence=2)
    failing = fleet.deployment(device_id, model2, fleet.code("3", mode="crash"), sequence=2)
    yield fleet, template, upgrade, failing
    fleet.close()


def _assert_whole(device: Device) -> dict[str, str]:
    """The running set is OLD or NEW and every running version is completely, correctly installed."""
    current = device.current()
    assert current in (OLD, NEW), current
    for name, version in current.items():
        folder = device.home / "components" / name / version
        assert (folder / ".complete").is_file(), f"{name}/{version} runs but is not complete"
        component = Component.model_validate_json((folder / "component.json").read_text())
        for entry in component.files:
            assert sha256_file(folder / entry.name) == entry.sha256, f"{name}/{version}/{entry.name} differs"
    return current


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_install_ends_on_a_whole_version(world, point, tmp_path):
    fleet, template, upgrade, failing = world
    deployment = failing if point == "rollback" else upgrade
    fleet.publish(deployment)
    expected, final = (OLD, "FAILED_ROLLBACK_COMPLETE") if point == "rollback" else (NEW, "SUCCEEDED")
    for run in range(RUNS):
        home = tmp_path / f"run-{run}"
        template.copy_home_to(home)
        device = Device(fleet, home, template.device_id)
        try:
            rc = device.start(failpoint=point).wait_exit(120)
            assert rc == -9, f"run {run}: the nucleus did not die at {point} (exit {rc}): {device.log_tail()}"
            _assert_whole(device)  # what a power cut would leave
            row = device.start().wait_final(deployment.id, timeout=120)
            assert row.state.value == final, f"run {run} at {point}: {row.state.value} {row.detail}"
            assert _assert_whole(device) == expected
            device.wait_serving(expected["code"], expected["model"])
            assert device.stop() == 0 and device.app_pids() == []
            assert _final_reports(home, deployment.id) == 1  # exactly one final report, across the kill
        finally:
            device.kill()
            for pid in device.app_pids():
                os.kill(pid, 9)


def _final_reports(home, deployment_id: str) -> int:
    """Final reports the device's outbox ever stored for a deployment (its once-only keys)."""
    db = sqlite3.connect(home / "reports.sqlite")
    try:
        keys = [k for (k,) in db.execute("SELECT key FROM idempotency")]
    finally:
        db.close()
    return keys.count(f"final/{deployment_id}")
