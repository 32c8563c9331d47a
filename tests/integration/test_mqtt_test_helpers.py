"""The suite's MQTT helpers against the real broker: they wait for the broker's answers, not for a while."""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
import pytest

from fleet_helpers import forget_session
from mqtt_helpers import require_broker

pytestmark = pytest.mark.broker


def _connect(client_id: str) -> tuple[mqtt.Client, bool]:
    """A persistent-session client on 127.0.0.1:1883, and whether the broker still had its session."""
    answered, present = threading.Event(), []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        present.append(flags.session_present)
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    assert answered.wait(10), "no CONNACK"
    return client, present[0]


def test_forget_session_has_dropped_the_session_when_it_returns():
    require_broker()
    client_id = f"forget-{uuid.uuid4().hex[:8]}"
    client, _ = _connect(client_id)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.subscribe(f"qiloop-test/{client_id}", qos=1)
    assert subscribed.wait(10), "no SUBACK"
    client.disconnect()
    client.loop_stop()

    again, present = _connect(client_id)  # the broker kept the session over the disconnect
    again.disconnect()
    again.loop_stop()
    assert present

    forget_session(1883, client_id)
    last, present = _connect(client_id)
    last.disconnect()
    last.loop_stop()
    forget_session(1883, client_id)
    assert not present, "forget_session returned before the broker dropped the session"
