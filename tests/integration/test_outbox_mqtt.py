"""The outbox drained to real Mosquitto brokers: all messages arrive, through an outage too.

What makes the outage assertion honest: a broker without a stored session forgets a
subscriber when it restarts, and would silently discard what the device publishes
before the subscriber is back. The private broker therefore keeps its state on disk
(``persistence`` with a save after every change) and the subscriber holds a persistent
session (``clean_session=False``, QoS 1), so its subscription outlives the broker kill;
every message the broker acknowledged to the device is either forwarded or stored for
the subscriber. Duplicates are allowed (QoS 1); the test counts unique sequences.
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from qiloop.edge.inference import MqttPublisher, Outbox

MOSQUITTO = "/usr/sbin/mosquitto"


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Subscriber:
    """A real paho subscriber that records the sequences it receives (auto-reconnecting)."""

    def __init__(self, port: int, topic: str, *, persistent: bool = False) -> None:
        self.sequences: list[int] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}", clean_session=not persistent
        )
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = lambda c, u, msg: self.sequences.append(json.loads(msg.payload)["sequence"])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the subscriber never got its SUBACK"

    def wait_for(self, expected: set[int], timeout: float) -> set[int]:
        deadline = time.monotonic() + timeout
        while not expected <= set(self.sequences) and time.monotonic() < deadline:
            time.sleep(0.05)
        return expected - set(self.sequences)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.broker
def test_200_messages_reach_a_subscriber_and_the_outbox_drains(tmp_path):
    if not _reachable(1883):
        pytest.skip("no MQTT broker listening on 127.0.0.1:1883 (start mosquitto to run this test)")
    topic = f"qiloop-test/{uuid.uuid4().hex}"
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", max_bytes=10_000_000)
    sub = Subscriber(1883, topic)
    try:
        sent = {box.put(topic, {"n": i}).sequence for i in range(200)}
        client_id = f"cam-1-{uuid.uuid4().hex[:8]}"
        with MqttPublisher.connect("mqtt://127.0.0.1:1883", box, client_id, max_inflight=10) as pub:
            assert pub.flush(timeout=20), f"outbox still holds {box.depth()} messages"
            missing = sub.wait_for(sent, timeout=10)
        assert not missing, f"{len(missing)} messages never arrived, e.g. {sorted(missing)[:5]}"
        assert sent == set(range(1, 201))
        s = box.stats()
        assert (s.depth, s.counts["result"]["enqueued"], s.counts["result"]["delivered"], s.lost) == (0, 200, 200, 0)
    finally:
        sub.close()
        box.close()


class PrivateBroker:
    """A mosquitto process of our own on a free loopback port, with its state on disk."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\n"
            "autosave_interval 1\nautosave_on_changes true\n"
            f"user {getpass.getuser()}\n"  # run as root, mosquitto would drop to a user that cannot write here
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _reachable(self.port):
            assert self.proc.poll() is None, "the private mosquitto exited at start"
            assert time.monotonic() < deadline, "the private mosquitto never listened"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.mark.skipif(shutil.which(MOSQUITTO) is None, reason=f"{MOSQUITTO} is not installed")
def test_a_broker_outage_loses_nothing(tmp_path):
    topic = f"qiloop-test/{uuid.uuid4().hex}"
    broker = PrivateBroker(tmp_path / "broker")
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", max_bytes=10_000_000)
    sub = pub = None
    try:
        broker.start()
        sub = Subscriber(broker.port, topic, persistent=True)
        sent = {box.put(topic, {"n": i}).sequence for i in range(300)}
        pub = MqttPublisher.connect(
            f"mqtt://127.0.0.1:{broker.port}", box, "cam-1-outage", max_inflight=5, backoff=(0.05, 0.4)
        ).start()
        deadline = time.monotonic() + 20
        while len(set(sub.sequences)) < 50:  # mid-stream
            assert time.monotonic() < deadline, "nothing arrived before the outage"
            time.sleep(0.005)
        broker.kill()
        assert box.depth() > 0, "the outbox drained before the broker was killed; the test proves nothing"
        sent |= {box.put(topic, {"n": i}).sequence for i in range(300, 400)}
        time.sleep(1.0)  # the device retries against a dead port with back-off
        assert not pub.connected and box.depth() >= 100
        broker.start()
        assert pub.flush(timeout=30), f"outbox still holds {box.depth()} messages after the restart"
        missing = sub.wait_for(sent, timeout=15)
        assert not missing, f"{len(missing)} messages lost, e.g. {sorted(missing)[:5]}"
        assert pub.connects >= 2
        s = box.stats()
        assert (s.depth, s.counts["result"]["enqueued"], s.counts["result"]["delivered"]) == (0, 400, 400)
    finally:
        if pub is not None:
            pub.stop()
        if sub is not None:
            sub.close()
        broker.kill()
        box.close()


def test_stop_is_prompt_while_the_broker_is_unreachable(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", max_bytes=1000)
    box.put("t", b"waits")
    pub = MqttPublisher.connect(f"mqtt://127.0.0.1:{_free_port()}", box, "cam-1-dead", backoff=(0.05, 30.0))
    pub.start()
    time.sleep(1.0)  # several refused attempts, each waiting longer
    started = time.monotonic()
    pub.stop(timeout=5)
    assert time.monotonic() - started < 1.0 and not pub.running
    assert not pub.flush(timeout=0.1) and box.depth() == 1  # nothing acknowledged, nothing lost
    box.close()
