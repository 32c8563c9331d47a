"""The outbox drained to real Mosquitto brokers: all messages arrive, through an outage too.

The outage test is honest because the private broker keeps its state on disk and the
subscriber holds a persistent session (see ``tests/mqtt_helpers.py``): every message the
broker acknowledged to the device is either forwarded or stored for the subscriber.
Duplicates are allowed (QoS 1); the test counts unique sequences.
"""

from __future__ import annotations

import time
import uuid

import pytest

from mqtt_helpers import PrivateBroker, Subscriber, free_port, require_broker, require_mosquitto
from qiloop.edge.inference import MqttPublisher, Outbox


@pytest.mark.broker
def test_200_messages_reach_a_subscriber_and_the_outbox_drains(tmp_path):
    require_broker()
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
        first = min(sent)
        assert sent == set(range(first, first + 200))  # consecutive, no gaps
        s = box.stats()
        assert (s.depth, s.counts["result"]["enqueued"], s.counts["result"]["delivered"], s.lost) == (0, 200, 200, 0)
    finally:
        sub.close()
        box.close()


@pytest.mark.broker
def test_a_broker_outage_loses_nothing(tmp_path):
    require_mosquitto()
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
    pub = MqttPublisher.connect(f"mqtt://127.0.0.1:{free_port()}", box, "cam-1-dead", backoff=(0.05, 30.0))
    pub.start()
    time.sleep(1.0)  # several refused attempts, each waiting longer
    started = time.monotonic()
    pub.stop(timeout=5)
    assert time.monotonic() - started < 1.0 and not pub.running
    assert not pub.flush(timeout=0.1) and box.depth() == 1  # nothing acknowledged, nothing lost
    box.close()
