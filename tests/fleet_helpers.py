"""A real fleet controller for tests: the controller service on the broker, devices that trust its key.

:class:`CloudFleet` adapts a running :class:`~qiloop.fleet.service.ControllerService` to what
:class:`nucleus_helpers.Device` expects of a fleet (``broker_url``, ``server``, ``root/keys``),
so the devices are the same real ``qiloop agent run`` processes the nucleus tests start.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from nucleus_helpers import code_zip
from qiloop.core.components import Component, Lifecycle
from qiloop.core.deployments import Target
from qiloop.fleet.packaging import model_component
from qiloop.fleet.publish import publish_retained
from qiloop.fleet.service import ControllerService
from qiloop.protocol.topics import deployment_topic, hello_topic
from qiloop.settings import Settings


def forget_session(port: int, client_id: str) -> None:
    """Drop the broker's persistent session of ``client_id`` (connect clean, disconnect)."""
    connected = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.on_connect = lambda *_: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert connected.wait(10), f"no CONNACK from the broker on port {port}"  # the session is dropped by then
    finally:
        client.disconnect()
        client.loop_stop()


class CloudFleet:
    """The controller side of a test, with its own home, on the broker at ``127.0.0.1:port``."""

    def __init__(self, root: Path, port: int = 1883, *, collect: bool = False, stale_after_s: float = 90.0) -> None:
        self.root, self.port = root, port
        self.broker_url = f"mqtt://127.0.0.1:{port}"
        self.settings = Settings(home=root)
        self.client_id = f"ctl-{uuid.uuid4().hex[:8]}"
        self.service = ControllerService.create(
            self.settings, self.broker_url, port=0, collect=collect, client_id=self.client_id,
            stale_after_s=stale_after_s,
        ).start()  # fmt: skip
        self.service.interval = 0.1
        self.controller = self.service.controller
        self.server = self.service.server
        self.store = self.controller.store
        self.devices: list[str] = []

    def close(self) -> None:
        self.service.stop()
        touched = {Target(kind="device", name=d) for d in self.devices}
        touched |= {r.target for r in self.controller.db.rollouts(limit=1000)}
        for target in touched:
            publish_retained(self.broker_url, deployment_topic(target), b"")
        for device in self.devices:
            publish_retained(self.broker_url, hello_topic(device), b"")
        forget_session(self.port, self.client_id)
        if self.service.collector is not None:
            forget_session(self.port, f"{self.client_id}-collector")

    def model(self, package: Path) -> Component:
        return model_component(self.store, package, name="model")

    def code(self, version: str, *, mode: str = "ok") -> Component:
        command = ["{python}", "{component}/app.py", "{data_dir}", "{model_path}", version, mode]
        lc = Lifecycle(command=command, unpack=["app.zip"], max_restarts=2, restart_window_s=10)
        return self.store.publish("code", version, "inference", {"app.zip": code_zip(version)}, lifecycle=lc,
                                  dependencies={"model": ">=1"})  # fmt: skip

    def wait_members(self, group: str, count: int, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            members = [d.device_id for d in self.controller.db.devices(group)]
            if len(members) >= count:
                return members
            time.sleep(0.1)
        raise AssertionError(f"only {self.controller.db.devices(group)} said hello in group {group}")
