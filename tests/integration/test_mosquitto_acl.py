"""The generated ACL on a real Mosquitto with password accounts: each device is held to its own topics.

The test starts its own mosquitto (``allow_anonymous false``, a password file made by
``mosquitto_passwd``, the ACL from :func:`qiloop.broker.acl.acl_text`) and plays a
controller and two devices against it. Denied publications are dropped by the broker
without an error, so each check sends a permitted message after the forbidden ones on
the same connection: once it arrives, anything sent before it would have too.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from mqtt_helpers import MOSQUITTO, free_port, reachable, require_mosquitto
from qiloop.broker.acl import DeviceAccess, acl_text, write_acl
from qiloop.core.deployments import Target
from qiloop.protocol.topics import RESULT_TOPIC, deployment_topic
from require_helpers import require

PASSWORDS = {"cam-a": "pw-a", "cam-b": "pw-b", "qiloop-controller": "pw-ctl"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    require_mosquitto()
    if shutil.which("mosquitto_passwd") is None:
        require("broker", "mosquitto_passwd is not installed (apt-get install mosquitto)")
    folder = tmp_path_factory.mktemp("acl-broker")
    passwd = folder / "passwd"
    for i, (user, password) in enumerate(PASSWORDS.items()):
        flags = ["-c"] if i == 0 else []
        subprocess.run(["mosquitto_passwd", "-b", *flags, str(passwd), user, password], check=True, timeout=30)
    acl = write_acl(folder / "acl", acl_text([DeviceAccess("cam-a", ("line-1",)), DeviceAccess("cam-b", ("line-2",))],
                                             services=["qiloop-controller"]))  # fmt: skip
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
                      f"persistence false\nuser {getpass.getuser()}\n")  # fmt: skip
    log = (folder / "mosquitto.log").open("wb")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not reachable(port):
        assert proc.poll() is None, (folder / "mosquitto.log").read_text()
        assert time.monotonic() < deadline, "mosquitto never listened"
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)
    log.close()


class Client:
    """A real paho client logged in as ``user``, recording (topic, payload) of what it receives."""

    def __init__(self, port: int, user: str | None, password: str | None = None) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.connack = threading.Event()
        self.reason: mqtt.ReasonCode | None = None
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}")
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.connack.wait(10), "no CONNACK"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.reason = reason_code
        self.connack.set()

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.received.append((msg.topic, msg.payload))

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def topics(self) -> set[str]:
        with self._lock:
            return {topic for topic, _ in self.received}

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload in self.received if t == topic]

    def subscribe(self, topics: list[str]) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe([(t, 1) for t in topics])
        assert done.wait(10), "no SUBACK"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def wait_for(self, topic: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while topic not in self.topics() and time.monotonic() < deadline:
            time.sleep(0.02)
        return topic in self.topics()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def device_topic(device: str) -> str:
    return deployment_topic(Target(kind="device", name=device))


def group_topic(group: str) -> str:
    return deployment_topic(Target(kind="group", name=group))


@pytest.mark.parametrize(
    ("user", "password"),
    [(None, None), ("cam-a", "wrong"), ("cam-z", "pw-a")],
    ids=["anonymous", "wrong-password", "unknown-account"],
)
def test_the_broker_refuses_clients_without_a_valid_account(broker, user, password):
    client = Client(broker, user, password)
    try:
        assert not client.accepted, f"{user} was let in"
    finally:
        client.client.loop_stop()


def test_a_device_reads_its_own_and_its_groups_deployments_and_no_others(broker):
    controller = Client(broker, "qiloop-controller", "pw-ctl")
    for topic in (device_topic("cam-a"), device_topic("cam-b"), group_topic("line-1"), group_topic("line-2")):
        controller.publish(topic, f"deployment for {topic}".encode(), retain=True)
    device = Client(broker, "cam-a", "pw-a")
    try:
        assert device.accepted
        # Forbidden subscriptions first: their retained messages would be sent before the permitted ones.
        device.subscribe([device_topic("cam-b"), group_topic("line-2"), "qiloop/deployments/#", "qiloop/#", "#",
                          device_topic("cam-a"), group_topic("line-1")])  # fmt: skip
        assert device.wait_for(device_topic("cam-a")) and device.wait_for(group_topic("line-1"))
        time.sleep(0.3)
        assert device.topics() == {device_topic("cam-a"), group_topic("line-1")}
    finally:
        device.close()
        controller.close()


def test_a_device_publishes_only_under_its_own_topics(broker):
    controller = Client(broker, "qiloop-controller", "pw-ctl")
    controller.publish(device_topic("cam-b"), b"genuine deployment for cam-b", retain=True)
    controller.subscribe(["qiloop/#", RESULT_TOPIC])
    device = Client(broker, "cam-a", "pw-a")
    try:
        forged = ["qiloop/devices/cam-b/status", "qiloop/devices/cam-b/deployments", "qiloop/devices/cam-b/hello",
                  device_topic("cam-b"), group_topic("line-2"), device_topic("cam-a"), "qiloop/devices",
                  "qiloop/devices/cam-ab/status", "other/topic"]  # fmt: skip
        for topic in forged:
            device.publish(topic, b"forged", retain=topic.startswith("qiloop/deployments"))
        device.publish(RESULT_TOPIC, b"result")
        device.publish("qiloop/devices/cam-a/status", b"own status")
        assert controller.wait_for("qiloop/devices/cam-a/status")
        assert controller.wait_for(RESULT_TOPIC)
        assert [t for t in controller.topics() if b"forged" in controller.payloads(t)] == []
        other = Client(broker, "cam-b", "pw-b")
        try:
            other.subscribe([device_topic("cam-b")])
            assert other.wait_for(device_topic("cam-b"))
            assert other.payloads(device_topic("cam-b")) == [b"genuine deployment for cam-b"]
        finally:
            other.close()
    finally:
        device.close()
        controller.close()
