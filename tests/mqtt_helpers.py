"""Real MQTT test helpers: a private Mosquitto with state on disk, and a recording subscriber.

Why the private broker persists: a broker without a stored session forgets a
subscriber when it restarts, and would silently discard what a device publishes
before the subscriber is back. The private broker keeps its state on disk (a
save after every change) and a ``persistent`` subscriber holds its session
(``clean_session=False``, QoS 1), so its subscription outlives a broker kill.
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

from require_helpers import require

MOSQUITTO = "/usr/sbin/mosquitto"


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require_broker(port: int = 1883) -> None:
    """Skip (fail under CI) unless an MQTT broker listens on ``127.0.0.1:port``."""
    if not reachable(port):
        require("broker", f"no MQTT broker listening on 127.0.0.1:{port} (start mosquitto to run this test)")


def require_mosquitto() -> None:
    """Skip (fail under CI) unless the mosquitto program is installed, for a private broker."""
    if shutil.which(MOSQUITTO) is None:
        require("broker", f"{MOSQUITTO} is not installed (apt-get install mosquitto)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Subscriber:
    """A real paho subscriber that records every JSON message it receives (auto-reconnecting)."""

    def __init__(self, port: int, topic: str | list[str], *, persistent: bool = False) -> None:
        self.messages: list[dict] = []
        self.topics: list[str] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        topics = [topic] if isinstance(topic, str) else topic
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4().hex[:8]}", clean_session=not persistent
        )
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the subscriber never got its SUBACK"

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages.append(json.loads(msg.payload))
            self.topics.append(msg.topic)

    @property
    def sequences(self) -> list[int]:
        with self._lock:
            return [m["sequence"] for m in self.messages]

    def of_kind(self, kind: str) -> list[dict]:
        with self._lock:
            return [m for m in self.messages if m.get("kind") == kind]

    def wait_for(self, expected: set[int], timeout: float) -> set[int]:
        """Wait until every sequence in ``expected`` arrived; the ones still missing."""
        deadline = time.monotonic() + timeout
        while not expected <= set(self.sequences) and time.monotonic() < deadline:
            time.sleep(0.05)
        return expected - set(self.sequences)

    def wait_until(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate(self) and time.monotonic() < deadline:
            time.sleep(0.05)
        return predicate(self)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class PrivateBroker:
    """A mosquitto process of our own on a free loopback port, with its state on disk."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\n"
            "autosave_interval 1\nautosave_on_changes true\n"
            "max_queued_messages 0\n"  # a persistent subscriber's queue must not drop anything
            f"user {getpass.getuser()}\n"  # run as root, mosquitto would drop to a user that cannot write here
        )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not reachable(self.port):
            assert self.proc.poll() is None, "the private mosquitto exited at start"
            assert time.monotonic() < deadline, "the private mosquitto never listened"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
