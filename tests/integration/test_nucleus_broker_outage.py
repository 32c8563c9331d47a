"""The broker dies in the middle of a deployment: the device finishes, and its reports arrive when it is back.

A private Mosquitto (state on disk) and a persistent subscriber, so nothing the
device publishes after the restart can be lost on the way (see ``tests/mqtt_helpers.py``).
"""

from __future__ import annotations

import time
import uuid

import pytest

from mqtt_helpers import PrivateBroker, Subscriber, require_mosquitto
from nucleus_helpers import Device, Fleet, model_packages
from qiloop.protocol.topics import report_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]
require_mosquitto()


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    pytest.importorskip("ultralytics", reason="building test models needs the train extra")
    return model_packages(tmp_path_factory.getbasetemp() / "nucleus-models")


def test_a_deployment_finishes_through_a_broker_outage(packages, tmp_path):
    broker = PrivateBroker(tmp_path / "broker")
    broker.start()
    fleet = Fleet(tmp_path / "fleet", broker.url)
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    sub = Subscriber(broker.port, report_topic(device_id), persistent=True)
    device = Device(fleet, tmp_path / "home", device_id).start()
    try:
        deployment = fleet.publish(fleet.deployment(device_id, fleet.model(packages["1"]), fleet.code("1")))
        deadline = time.monotonic() + 30
        while not (device.home / "state.db").is_file() or device.row(deployment.id) is None:
            assert time.monotonic() < deadline, f"the device never accepted the deployment: {device.log_tail()}"
            time.sleep(0.02)
        broker.kill()  # mid-deployment: accepted, not finished
        assert not device.row(deployment.id).final
        row = device.wait_final(deployment.id, timeout=60)
        assert row.state.value == "SUCCEEDED", row.detail
        device.wait_serving("1", "1")
        time.sleep(0.5)
        assert not [m for m in sub.of_kind("deployment") if m["state"] == "SUCCEEDED"]  # nothing got out yet
        broker.start()
        got = sub.wait_until(lambda s: any(m["state"] == "SUCCEEDED" for m in s.of_kind("deployment")), timeout=30)
        assert got, f"the final report never arrived after the broker came back: {device.log_tail()}"
        states = [m["state"] for m in sub.of_kind("deployment") if m["deployment_id"] == deployment.id]
        assert states.count("SUCCEEDED") >= 1 and "RECEIVED" in states
        assert len({m["sequence"] for m in sub.of_kind("deployment") if m["state"] == "SUCCEEDED"}) == 1
        assert device.stop() == 0
    finally:
        device.kill()
        sub.close()
        fleet.server.stop()
        broker.kill()
