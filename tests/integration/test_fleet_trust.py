"""Trust over a real broker (Mosquitto on 1883 and the embedded one): the fleet believes enrolled devices only.

A real nucleus (``qiloop agent run``) enrolls with a one-time token on its first hello and goes
through a rollout. A rogue client on the same broker then tries what anyone who can publish
could: register a device with a forged hello, end a rollout with a forged SUCCEEDED report,
speak on another device's topic, send unsigned results, and play back what it recorded. The
controller and the collector drop each, and count it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from fleet_helpers import forget_session
from mqtt_helpers import require_broker
from qiloop.broker import EmbeddedBroker
from qiloop.core.components import Lifecycle
from qiloop.core.deployments import DeploymentState, RolloutPolicy, Target
from qiloop.fleet.collector import Collector
from qiloop.fleet.enrollment import create_token, register_key
from qiloop.fleet.publish import publish_retained
from qiloop.fleet.rollout import Phase
from qiloop.fleet.service import ControllerService
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.messages import DeviceStatus, InferenceResult
from qiloop.protocol.mqtt import mqtt_client
from qiloop.protocol.reports import DeploymentReport, DeviceHello
from qiloop.protocol.signed import MessageSigner
from qiloop.protocol.topics import deployment_topic, hello_topic, report_topic, status_topic
from qiloop.settings import Settings

pytestmark = pytest.mark.slow
# The component a device runs: a process that stays up (no model, so no test inference is needed).
IDLE = Lifecycle(command=["{python}", "-c", "import time\nwhile True: time.sleep(1)"], max_restarts=1)


@pytest.fixture(params=[pytest.param("mosquitto", marks=pytest.mark.broker), "embedded"])
def url(request):
    if request.param == "mosquitto":
        require_broker()
        yield "mqtt://127.0.0.1:1883"
    else:
        with EmbeddedBroker() as broker:
            yield broker.url


@pytest.fixture
def cloud(url, tmp_path):
    """The controller service with its collector, on its own home and client ids; cleaned off the broker after."""
    ns = uuid.uuid4().hex[:8]
    service = ControllerService.create(
        Settings(home=tmp_path / "home"), url, port=0, client_id=f"ctl-{ns}", collect=False
    ).start()
    service.interval = 0.1
    service.group, service.ns, service.retained, service.home = f"line-{ns}", ns, [], tmp_path / "home"
    yield service
    service.stop()
    for topic in service.retained:
        publish_retained(url, topic, b"")
    publish_retained(url, deployment_topic(Target(kind="group", name=service.group)), b"")
    if url.endswith(":1883"):
        forget_session(1883, f"ctl-{ns}")
        forget_session(1883, f"col-{ns}")


def _until(predicate, timeout: float, what: str, detail=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}\n{detail()}")


class Rogue:
    """Anyone who can publish on the broker: sends raw payloads with QoS 1 and waits for the broker's ack."""

    def __init__(self, url: str) -> None:
        self.client = mqtt_client(url, f"rogue-{uuid.uuid4().hex[:8]}")
        self.client.reconnect()
        self.client.loop_start()

    def send(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_an_enrolled_device_goes_through_a_rollout(cloud, url, tmp_path, caplog):
    device_id = f"cam-{cloud.ns}"
    token = create_token(cloud.controller.db, device_id).token
    home = tmp_path / device_id
    env = {**os.environ, "QILOOP_ENROLL_TOKEN": token}
    argv = [sys.executable, "-m", "qiloop.cli.main", "agent", "run", "--home", str(home), "--device-id", device_id,
            "--group", cloud.group, "--broker", url, "--controller", cloud.files_url,
            "--trust-key", str(cloud.home / "keys" / "deploy-signing.pub"),
            "--health-window", "1"]  # fmt: skip
    cloud.retained.append(hello_topic(device_id))
    with (tmp_path / "device.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        log_tail = lambda: (tmp_path / "device.log").read_text()[-3000:]  # noqa: E731
        _until(lambda: cloud.controller.db.devices(cloud.group), 30, "the device's hello", log_tail)
        key = cloud.controller.db.device_key(device_id)
        assert key is not None and key.source == "token"
        assert key.public_key == (home / "identity" / "device.pub").read_text().strip()
        code = cloud.controller.store.publish("idle", "1", "inference", {"README": b"idle"}, lifecycle=IDLE)
        rollout = cloud.controller.deploy([code], cloud.group, policy=RolloutPolicy(canary=1, soak_s=0.5))
        done = cloud.wait_rollout(rollout.id, timeout=90)
        assert done.phase == Phase.SUCCEEDED, (done.reason, (tmp_path / "device.log").read_text()[-3000:])
        assert cloud.controller.db.devices(cloud.group)[0].running == {"idle": "1"}
        assert [
            r.getMessage() for r in caplog.records if device_id in r.getMessage() and "rejected" in r.getMessage()
        ] == []
        assert len(cloud.controller.db.reports(done.deployments[f"device:{device_id}"])) >= 2  # signed, believed
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        publish_retained(url, deployment_topic(Target(kind="device", name=device_id)), b"")


def test_forgeries_and_replays_change_nothing(cloud, url, tmp_path):
    db, controller = cloud.controller.db, cloud.controller
    victim = MessageSigner.from_key_file(tmp_path / "victim.pem")
    rogue_key = MessageSigner.from_key_file(tmp_path / "rogue.pem")
    device = f"cam-{cloud.ns}"
    register_key(db, device, encode_public_key(victim.public_key))  # as qiloop fleet add-key
    rogue = Rogue(url)
    try:
        # a forged hello registers nothing: unsigned, or signed by a key nobody enrolled
        ghost = f"ghost-{cloud.ns}"
        rogue.send(hello_topic(ghost), DeviceHello(device_id=ghost, groups=[cloud.group]).model_dump_json().encode())
        rogue.send(hello_topic(ghost), rogue_key.sign(DeviceHello(device_id=ghost, groups=[cloud.group]).body()))
        # the real device says hello (signed by its registered key), so the group has one member
        greeting = {**DeviceHello(device_id=device, groups=[cloud.group]).body(), "sequence": 1}
        rogue.send(hello_topic(device), victim.sign(greeting))
        cloud.retained.extend([hello_topic(ghost), hello_topic(device)])
        _until(lambda: db.devices(cloud.group), 15, "the device's hello")  # the forged ones came before it
        assert [d.device_id for d in db.devices()] == [device]
        # (on the shared Mosquitto, other tests' devices are rejected here too: hence at least)
        assert controller.outcomes[("hello", "rejected")] >= 2

        code = controller.store.publish("idle", "1", "inference", {"README": b"idle"}, lifecycle=IDLE)
        rollout = controller.deploy([code], cloud.group, policy=RolloutPolicy(canary=0, soak_s=0))
        deployment_id = _until(lambda: db.rollout(rollout.id).deployments.get(f"group:{cloud.group}"), 15, "publish")
        sequence = db.deployment(deployment_id).deployment().sequence

        target = f"group:{cloud.group}"

        def report(state: DeploymentState, seq: int, signer: MessageSigner = victim) -> bytes:
            body = DeploymentReport(
                device_id=device, deployment_id=deployment_id, target=target, deployment_sequence=sequence,
                state=state, running={"idle": "1"},
            ).body()  # fmt: skip
            return signer.sign({**body, "sequence": seq})

        downloading = report(DeploymentState.DOWNLOADING, 1)
        forged = {
            "signed by another key": (report_topic(device), report(DeploymentState.SUCCEEDED, 2, rogue_key)),
            "unsigned": (report_topic(device), json.dumps({**json.loads(downloading), "state": "SUCCEEDED",
                                                           "sequence": 3, "signature": ""}).encode()),
            "altered": (report_topic(device), downloading.replace(b'"DOWNLOADING"', b'"SUCCEEDED"')),
            "for another device's topic": (report_topic(ghost), report(DeploymentState.SUCCEEDED, 4)),
        }  # fmt: skip
        rogue.send(report_topic(device), downloading)
        for topic, payload in forged.values():
            rogue.send(topic, payload)
        rogue.send(report_topic(device), downloading)  # played back
        _until(lambda: controller.outcomes[("deployment", "duplicate")] == 1, 15, "the replayed report")
        assert controller.outcomes[("deployment", "rejected")] >= len(forged)
        time.sleep(0.5)  # a few rollout steps
        assert db.rollout(rollout.id).phase == Phase.GROUP  # no forged SUCCEEDED ended it
        assert [r["state"] for r in db.reports(deployment_id)] == ["DOWNLOADING"]

        rogue.send(report_topic(device), report(DeploymentState.SUCCEEDED, 5))  # the device's own report ends it
        assert cloud.wait_rollout(rollout.id, timeout=15).phase == Phase.SUCCEEDED

    finally:
        rogue.close()


def test_the_collector_stores_only_what_enrolled_devices_signed(cloud, url, tmp_path):
    victim = MessageSigner.from_key_file(tmp_path / "victim.pem")
    rogue_key = MessageSigner.from_key_file(tmp_path / "rogue.pem")
    device, ns = f"cam-{cloud.ns}", cloud.ns
    register_key(cloud.controller.db, device, encode_public_key(victim.public_key))
    results, root = f"{ns}/results", f"{ns}/devices"  # its own topics: nothing else on the broker is counted
    collector = Collector.connect(url, Settings(home=cloud.home), client_id=f"col-{ns}", results_topic=results,
                                  device_root=root).start()  # fmt: skip
    rogue = Rogue(url)
    try:
        result = InferenceResult(device_id=device, image_name="a.png", model_name="m", verdict="fail", latency_ms=2)
        good = victim.sign({**result.body(), "sequence": 10})
        rogue.send(results, good)
        rogue.send(results, good)  # played back
        rogue.send(results, rogue_key.sign({**result.body(), "sequence": 11}))  # signed by another key
        rogue.send(results, json.dumps({**result.body(), "sequence": 12}).encode())  # unsigned
        status = victim.sign({**DeviceStatus(device_id=device).body(), "sequence": 13})
        rogue.send(status_topic("cam-other", root), status)  # on another device's topic
        rogue.send(status_topic(device, root), status)
        _until(lambda: collector.stats().total("received") == 6, 15, "the collector's messages")
        assert collector.stats().of("result") == {"received": 4, "stored": 1, "duplicate": 1, "rejected": 2,
                                                   "invalid": 0, "failed": 0}  # fmt: skip
        assert collector.stats().of("status") == {"received": 2, "stored": 1, "duplicate": 0, "rejected": 1,
                                                   "invalid": 0, "failed": 0}  # fmt: skip
    finally:
        rogue.close()
        collector.stop()
