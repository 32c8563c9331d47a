"""The embedded broker with real paho-mqtt 2 clients over real sockets: QoS 1, retained, persistent sessions."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from qiloop.broker import EmbeddedBroker, broker_url
from qiloop.core.errors import ConfigurationError
from qiloop.edge.inference import MqttPublisher, Outbox
from qiloop.settings import Settings


class Sub:
    """A paho subscriber recording (topic, payload, qos) of what it receives."""

    def __init__(self, port: int, topic: str, *, client_id: str | None = None, persistent: bool = False) -> None:
        self.got: list[tuple[str, bytes, int]] = []
        self.session_present: bool | None = None
        ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or uuid.uuid4().hex[:12],
                                  clean_session=not persistent)  # fmt: skip

        def on_connect(client, userdata, flags, reason_code, properties):
            self.session_present = flags.session_present
            client.subscribe(topic, qos=1)

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = lambda c, u, m: self.got.append((m.topic, m.payload, m.qos))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10), "no SUBACK from the embedded broker"

    def wait(self, n: int, timeout: float = 10) -> list[tuple[str, bytes, int]]:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(port: int, topic: str, payloads: list[bytes], *, retain: bool = False) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex[:12])
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, p, qos=1, retain=retain) for p in payloads]
        for info in infos:
            info.wait_for_publish(10)  # returns on the broker's PUBACK
        assert all(info.is_published() for info in infos)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def broker():
    with EmbeddedBroker() as b:
        yield b


def test_the_device_publisher_drains_its_outbox_through_the_embedded_broker(broker, tmp_path):
    sub = Sub(broker.port, "results/#")
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", max_bytes=10_000_000)
    try:
        sent = {box.put("results/line-1", {"n": i}).sequence for i in range(200)}
        with MqttPublisher.connect(broker.url, box, "cam-1", max_inflight=10) as pub:
            assert pub.flush(timeout=20), f"outbox still holds {box.depth()} messages"
        got = sub.wait(200)
        assert {json.loads(p)["sequence"] for _, p, _ in got} == sent
        assert {q for _, _, q in got} == {1}
        s = box.stats()
        assert (s.depth, s.counts["result"]["delivered"]) == (0, 200)
    finally:
        sub.close()
        box.close()


def test_a_retained_message_reaches_a_later_subscriber(broker):
    publish(broker.port, "deploy/cam-1", [b"v1", b"v2"], retain=True)
    sub = Sub(broker.port, "deploy/+")
    try:
        assert sub.wait(1) == [("deploy/cam-1", b"v2", 1)]
    finally:
        sub.close()


def test_a_persistent_session_keeps_qos1_messages_while_the_client_is_away(broker):
    client_id = f"collector-{uuid.uuid4().hex[:6]}"
    first = Sub(broker.port, "fleet/#", client_id=client_id, persistent=True)
    assert first.session_present is False
    first.close()
    publish(broker.port, "fleet/cam-1", [f"m{i}".encode() for i in range(20)])
    again = Sub(broker.port, "fleet/#", client_id=client_id, persistent=True)
    try:
        assert again.session_present is True
        assert [p for _, p, _ in again.wait(20)] == [f"m{i}".encode() for i in range(20)]
    finally:
        again.close()


def test_free_ports_fixed_ports_and_a_clean_stop():
    with EmbeddedBroker() as a, EmbeddedBroker() as b:
        assert a.port != b.port and a.url == f"mqtt://127.0.0.1:{a.port}"
        with pytest.raises(ConfigurationError, match=f"port {a.port} on 127.0.0.1 is already in use"):
            EmbeddedBroker(port=a.port).start()
        port = a.port
    assert not a.running
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_broker_url_prefers_the_configured_broker(tmp_path):
    assert broker_url(Settings(home=tmp_path, mqtt_url="mqtt://broker.plant:1883")) == (
        "mqtt://broker.plant:1883",
        None,
    )
    url, embedded = broker_url(Settings(home=tmp_path, mqtt_url=None))
    try:
        assert embedded is not None and embedded.running and url == embedded.url
        publish(embedded.port, "t", [b"x"])
    finally:
        embedded.stop()
