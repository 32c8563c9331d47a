"""Canary rollouts end to end: the fleet controller service, real Mosquitto, real nucleus processes, real HTTP.

A group of three devices with one canary: a good rollout reaches the canary first and the
rest only after the canary succeeded and soaked; a rollout whose code crashes on start
fails on the canary, is ABORTED, never reaches the other two, and the canary is rolled
back (it runs the previous set, and the controller published that set to it).
"""

from __future__ import annotations

import uuid

import pytest

from fleet_helpers import CloudFleet
from mqtt_helpers import require_broker
from nucleus_helpers import Device, model_packages
from qiloop.core.deployments import RolloutPolicy
from qiloop.fleet.rollout import Phase

pytestmark = [pytest.mark.broker, pytest.mark.slow]
POLICY = RolloutPolicy(canary=1, soak_s=1.0, max_failure_fraction=0.2, health_timeout_s=60)


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    pytest.importorskip("ultralytics", reason="building test models needs the train extra")
    return model_packages(tmp_path_factory.getbasetemp() / "nucleus-models")


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """A controller and three devices in one group, for the whole module."""
    require_broker()
    root = tmp_path_factory.mktemp("fleet")
    cloud = CloudFleet(root / "cloud")
    group = f"line-{uuid.uuid4().hex[:6]}"
    ids = [f"{group}-d{i}" for i in range(3)]
    cloud.devices = ids
    devices = {d: Device(cloud, root / d, d, groups=(group,)).start() for d in ids}
    try:
        assert sorted(cloud.wait_members(group, 3)) == ids
        yield cloud, group, devices
    finally:
        for device in devices.values():
            device.stop()  # SIGTERM: the nucleus stops its component processes too
            device.kill()
        cloud.close()


def _first_final_time(cloud, deployment_id: str) -> float:
    return min(r["received_at"] for r in cloud.controller.db.reports(deployment_id) if r["state"] == "SUCCEEDED")


def test_canary_first_then_the_rest(line, packages):
    cloud, group, devices = line
    model, code = cloud.model(packages["1"]), cloud.code("1")
    rollout = cloud.controller.deploy([model, code], group, policy=POLICY)
    done = cloud.service.wait_rollout(rollout.id, timeout=120)
    assert done.phase == Phase.SUCCEEDED, (done.reason, {d: dev.log_tail(10) for d, dev in devices.items()})
    (canary,) = done.canaries
    canary_id, group_id = done.deployments[f"device:{canary}"], done.deployments[f"group:{group}"]
    assert done.outcome == dict.fromkeys(devices, "SUCCEEDED")
    # the rest heard of the group deployment only after the canary's success and the soak
    group_reports = cloud.controller.db.reports(group_id)
    assert {r["device_id"] for r in group_reports} == set(devices)
    assert min(r["received_at"] for r in group_reports) >= _first_final_time(cloud, canary_id) + POLICY.soak_s
    for device_id, device in devices.items():
        device.wait_serving("1", "1")
        assert device.current() == {"code": "1", "model": "1"}
        assert (device.row(canary_id) is not None) == (device_id == canary)  # only the canary got the canary document
    running = {d.device_id: d.running for d in cloud.controller.db.devices(group)}
    assert running == {d: {"code": "1", "model": "1"} for d in devices}


def test_a_crashing_canary_aborts_and_is_rolled_back(line, packages):
    cloud, group, devices = line
    good = cloud.controller.deploy([cloud.model(packages["1"]), cloud.code("1")], group, policy=POLICY)
    assert cloud.service.wait_rollout(good.id, timeout=120).phase == Phase.SUCCEEDED
    beats = {d: device.wait_serving("1", "1") for d, device in devices.items()}

    rollout = cloud.controller.deploy([cloud.code("9", mode="crash")], group, policy=POLICY)
    assert [c.version for c in rollout.previous] == ["1"]  # what the abort returns to
    done = cloud.service.wait_rollout(rollout.id, timeout=120)
    assert done.phase == Phase.ABORTED, done.reason
    (canary,) = done.canaries
    assert "FAILED_ROLLBACK_COMPLETE" in done.reason and canary in done.reason
    assert f"group:{group}" not in done.deployments  # the group deployment was never created
    crash_id = done.deployments[f"device:{canary}"]
    assert {r["device_id"] for r in cloud.controller.db.reports(crash_id)} == {canary}
    # the canary got the previous set published back, and runs it
    (rollback_id,) = done.rollback
    rollback = cloud.controller.db.deployment(rollback_id).deployment()
    assert str(rollback.target) == f"device:{canary}" and [(c.name, c.version) for c in rollback.components] == [
        ("code", "1")
    ]
    devices[canary].wait_final(rollback_id, timeout=60)
    for device_id, device in devices.items():
        assert device.current() == {"code": "1", "model": "1"}
        beat = device.wait_serving("1", "1")
        if device_id != canary:
            assert device.row(crash_id) is None  # never received it
            assert beat["pid"] == beats[device_id]["pid"]  # not even restarted
    assert not (devices[canary].home / "components" / "code" / "9").exists()
