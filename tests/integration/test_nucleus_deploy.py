"""The nucleus end to end: real Mosquitto, real HTTP file server, real signed deployments, real processes.

One device goes through a first install, a model-only update, a code-only update, a
code that crashes on start and a model that fails its test inference; the transfer of
each update is measured at the file server, and every deployment must end with exactly
one final report on MQTT.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid

import pytest

from mqtt_helpers import Subscriber, require_broker
from nucleus_helpers import Device, Fleet, code_zip, model_packages
from qiloop.edge.agent.identity import device_public_key
from qiloop.protocol.topics import hello_topic, report_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    pytest.importorskip("ultralytics", reason="building test models needs the train extra")
    return model_packages(tmp_path_factory.getbasetemp() / "nucleus-models")


@pytest.fixture
def fleet(tmp_path):
    require_broker()
    fleet = Fleet(tmp_path / "fleet", "mqtt://127.0.0.1:1883")
    yield fleet
    fleet.close()


def _finals(sub: Subscriber, deployment_id: str) -> list[str]:
    return [
        m["state"]
        for m in sub.of_kind("deployment")
        if m["deployment_id"] == deployment_id
        and m["state"] in ("SUCCEEDED", "FAILED_ROLLBACK_COMPLETE", "FAILED_ROLLBACK_FAILED", "REJECTED")
    ]


def _file_bytes(fleet: Fleet) -> int:
    return sum(n for path, n in fleet.server.served.items() if path.startswith("/v1/files/"))


def _shared(a, b) -> int:
    return sum(f.size for f in b.files if f.sha256 in {g.sha256 for g in a.files})


def test_install_update_and_roll_back_on_one_device(fleet, packages, tmp_path):
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    sub = Subscriber(1883, report_topic(device_id))
    device = Device(fleet, tmp_path / "home", device_id).start()
    try:
        model1, model2, bad_model = (fleet.model(packages[v]) for v in ("1", "2", "3"))
        library = {"lib.bin": os.urandom(300_000)}  # a code component of realistic size (a few hundred kB)
        code1, code2 = (fleet.code(v, archive=code_zip(v, extra=library)) for v in ("1", "2"))
        crashing = fleet.code("3", mode="crash")

        first = fleet.publish(fleet.deployment(device_id, model1, code1))
        assert device.wait_final(first.id).state.value == "SUCCEEDED", device.log_tail()
        assert device.current() == {"code": "1", "model": "1"}
        beat = device.wait_serving("1", "1")
        assert beat["model_path"].endswith("components/model/1")

        fleet.server.reset_counts()
        model_only = fleet.publish(fleet.deployment(device_id, model2, code1))
        assert device.wait_final(model_only.id).state.value == "SUCCEEDED", device.log_tail()
        model_bytes = fleet.server.bytes_served
        assert _file_bytes(fleet) == model2.size - _shared(model1, model2)  # only the files that changed
        assert device.wait_serving("1", "2")["pid"] != beat["pid"]  # restarted on the new model
        assert model_bytes <= 1.05 * model2.size, (model_bytes, model2.size)

        fleet.server.reset_counts()
        code_only = fleet.publish(fleet.deployment(device_id, code2))
        assert device.wait_final(code_only.id).state.value == "SUCCEEDED", device.log_tail()
        code_bytes = fleet.server.bytes_served
        assert _file_bytes(fleet) == code2.size
        serving = device.wait_serving("2", "2")
        assert code_bytes <= 1.05 * code2.size, (code_bytes, code2.size)
        print(f"\nmodel-only update: {model_bytes} bytes for a {model2.size}-byte model component; "
              f"code-only update: {code_bytes} bytes for a {code2.size}-byte code component")  # fmt: skip

        crash = fleet.publish(fleet.deployment(device_id, crashing))
        row = device.wait_final(crash.id)
        assert row.state.value == "FAILED_ROLLBACK_COMPLETE", row.detail
        assert "exited" in row.detail
        assert device.current() == {"code": "2", "model": "2"}
        assert device.wait_serving("2", "2")["pid"] != serving["pid"]  # the old code was started again

        broken = fleet.publish(fleet.deployment(device_id, bad_model))
        row = device.wait_final(broken.id)
        assert row.state.value == "FAILED_ROLLBACK_COMPLETE", row.detail
        assert "test inference" in row.detail
        assert device.current() == {"code": "2", "model": "2"}
        device.wait_serving("2", "2")
        assert not device.home.joinpath("components/model/3").exists()  # the failed version was pruned

        everything = [first, model_only, code_only, crash, broken]
        assert sub.wait_until(lambda s: all(_finals(s, d.id) for d in everything), timeout=15)
        assert [_finals(sub, d.id) for d in everything] == [
            ["SUCCEEDED"], ["SUCCEEDED"], ["SUCCEEDED"], ["FAILED_ROLLBACK_COMPLETE"], ["FAILED_ROLLBACK_COMPLETE"]
        ]  # fmt: skip
        assert device.stop() == 0
        assert device.app_pids() == []  # the nucleus stopped its component processes
        status = subprocess.run(
            [sys.executable, "-m", "qiloop.cli.main", "agent", "status", "--home", str(device.home), "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        shown = json.loads(status.stdout)
        assert shown["running"] == {"code": "2", "model": "2"}
        assert [d["state"] for d in shown["deployments"]] == [
            "FAILED_ROLLBACK_COMPLETE", "FAILED_ROLLBACK_COMPLETE", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"
        ]  # fmt: skip
    finally:
        device.kill()
        sub.close()


def test_the_hello_carries_the_device_key_and_reports_a_component_that_crash_loops_later(fleet, packages, tmp_path):
    device_id = f"dev-{uuid.uuid4().hex[:8]}"
    sub = Subscriber(1883, hello_topic(device_id))
    device = Device(fleet, tmp_path / "home", device_id).start()
    try:
        assert sub.wait_until(lambda s: s.of_kind("hello"), timeout=15)
        key = sub.of_kind("hello")[-1]["public_key"]
        assert len(base64.b64decode(key)) == 32
        assert key == device_public_key(device.home)  # the key the device keeps in its home
        model = fleet.model(packages["1"])
        flaky = fleet.code("1", mode="late-crash")  # restarts at most 2 times in 10 s
        done = fleet.publish(fleet.deployment(device_id, model, flaky))
        assert device.wait_final(done.id).state.value == "SUCCEEDED", device.log_tail()  # healthy at first
        assert sub.wait_until(lambda s: any(m.get("failed") == ["code"] for m in s.of_kind("hello")), timeout=30)
        assert device.stop() == 0
    finally:
        device.kill()
        sub.close()
