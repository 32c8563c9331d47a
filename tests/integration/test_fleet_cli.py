"""``qiloop fleet serve`` + ``qiloop deploy`` end to end, with the real inference code on the devices.

A registered model (MLflow on SQLite) goes through ``qiloop deploy --wait`` to two nucleus
processes in a group; each runs the real inference component (``qiloop edge run`` from
the code zip) and the results of a camera image arrive over MQTT in the controller's
collector. Then ``fleet status``, ``fleet devices``, the Greengrass export, and the exit
code of a deployment of a version that does not exist.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from fleet_helpers import forget_session
from mqtt_helpers import free_port, require_broker
from nucleus_helpers import Device
from qiloop.core.deployments import Target
from qiloop.fleet.publish import publish_retained
from qiloop.protocol.topics import deployment_topic, hello_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]
BROKER = "mqtt://127.0.0.1:1883"


def qiloop(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "qiloop.cli.main", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def home(tmp_path, yolo_package):
    """A home whose registry holds scratch-detector/1 (Approved): a real tiny YOLOv8 package."""
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    home = tmp_path / "home"
    registry = ModelRegistry.from_settings(Settings(home=home))
    with registry.start_candidate_run("scratch-detector") as run:
        registry.register(run, yolo_package, approval="Approved")
    return home


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_deploy_status_and_export(home, tmp_path, monkeypatch):
    require_broker()
    from qiloop.fleet.registry_db import FleetDB
    from qiloop.fleet.results_db import ResultsDB

    monkeypatch.setenv("QILOOP_HOME", str(tmp_path / "device-apps"))  # where the devices' inference apps keep state
    port, group = free_port(), f"cli-{uuid.uuid4().hex[:6]}"
    log = (tmp_path / "serve.log").open("wb")
    argv = ["fleet", "serve", "--home", str(home), "--broker", BROKER, "--port", str(port)]
    serve = subprocess.Popen([sys.executable, "-m", "qiloop.cli.main", *argv], stdout=log, stderr=subprocess.STDOUT)
    db = FleetDB(home / "fleet.db")
    cloud = SimpleNamespace(broker_url=BROKER, server=SimpleNamespace(url=f"http://127.0.0.1:{port}"), root=home)
    ids = [f"{group}-{i}" for i in range(2)]
    devices: list[Device] = []
    try:
        _wait(lambda: db.controllers(), 60, "the controller's heartbeat")
        devices = [Device(cloud, tmp_path / d, d, groups=(group,)).start(health_window=1.5) for d in ids]
        _wait(lambda: len(db.devices(group)) == 2, 30, "two hellos")

        done = qiloop("deploy", "--target", group, "--canary", "1", "--soak", "1", "--health-timeout", "120",
                      "--set", "feedback.no_detection=true", "--wait", "--json", home=home, check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr + "\n".join(d.log_tail() for d in devices)
        rollout = json.loads(done.stdout)
        assert rollout["phase"] == "SUCCEEDED"
        assert [(c["name"], c["version"]) for c in rollout["components"]] == [
            ("scratch-detector", "1"), ("qiloop-inference", "1")
        ]  # fmt: skip
        assert rollout["configuration"] == {"qiloop-inference": {"settings": {"feedback": {"no_detection": True}}}}
        for device in devices:
            assert device.current() == {"qiloop-inference": "1", "scratch-detector": "1"}
            (pid,) = device.app_pids()  # the nucleus passed the rollout's settings to the app it started
            assert b"\0feedback.no_detection=true" in Path(f"/proc/{pid}/cmdline").read_bytes()

        # the real inference app runs on both devices: a camera image gives a result over MQTT
        from PIL import Image

        for device in devices:
            Image.new("RGB", (96, 64), (120, 120, 120)).save(device.home / "camera" / "tag-1.png")
        with ResultsDB(home / "fleet.db") as results:
            _wait(lambda: {r.message.device_id for r in results.results(limit=0)} == set(ids), 60,
                  "a result from each device")  # fmt: skip
            stored = results.results(limit=0)
        assert {r.message.model_version for r in stored} == {"1"}

        status = json.loads(qiloop("fleet", "status", "--json", home=home).stdout)
        assert status["rollouts"][0]["id"] == rollout["id"] and status["controllers"]
        running = {d["device_id"]: d["running"] for d in status["devices"] if d["device_id"] in ids}
        assert running == {d: {"qiloop-inference": "1", "scratch-detector": "1"} for d in ids}
        listed = json.loads(qiloop("fleet", "devices", "--group", group, "--json", home=home).stdout)
        assert [d["device_id"] for d in listed] == ids and all(d["groups"] == [group] for d in listed)
        assert qiloop("fleet", "status", home=home).stdout.count("SUCCEEDED") >= 1

        out = tmp_path / "greengrass"
        group_deployment = rollout["deployments"][f"group:{group}"]
        qiloop("fleet", "export-greengrass", "--component", "qiloop-inference/1", "--deployment", group_deployment,
               "--out", str(out), home=home)  # fmt: skip
        recipe = json.loads((out / "recipes" / "qiloop-inference-1.0.0.json").read_text())
        assert recipe["ComponentDependencies"]["scratch-detector"]["VersionRequirement"] == ">=1.0.0"
        assert (
            json.loads((out / "deployment.json").read_text())["components"]["scratch-detector"]["componentVersion"]
            == "1.0.0"
        )

        missing = qiloop("deploy", "--model", "scratch-detector/7", "--target", group, home=home, check=False)
        assert missing.returncode == 5, missing.stderr
        bad = qiloop("deploy", "--target", "Not A Group", home=home, check=False)
        assert bad.returncode == 2, bad.stderr
        unknown = qiloop("deploy", "--target", "nosuchgroup", home=home, check=False)
        assert unknown.returncode == 5 and "no group 'nosuchgroup'" in unknown.stderr, unknown.stderr
        assert group in unknown.stderr and ids[0] in unknown.stderr  # the known ones are listed
    finally:
        for device in devices:
            device.stop()  # SIGTERM: the nucleus stops its inference app too
            device.kill()
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0, (tmp_path / "serve.log").read_text()[-2000:]
        for target in [Target(kind="group", name=group), *(Target(kind="device", name=d) for d in ids)]:
            publish_retained(BROKER, deployment_topic(target), b"")
        for d in ids:
            publish_retained(BROKER, hello_topic(d), b"")
        forget_session(1883, "qiloop-fleet-controller")
        forget_session(1883, "qiloop-fleet-controller-collector")
    assert os.environ["QILOOP_HOME"].endswith("device-apps")
