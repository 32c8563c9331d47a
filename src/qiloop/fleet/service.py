"""The fleet controller as a running service: file server, MQTT session, rollout loop, results collector.

setup (:meth:`ControllerService.start`: serve the component store over HTTP, connect
with a persistent session and subscribe to reports, hellos and status, start the
collector) → loop (a thread that advances the rollouts whenever a message arrived or
``interval`` passed, and beats in ``fleet.db``) → teardown (:meth:`ControllerService.stop`).
Messages are recorded on paho's network thread before paho acknowledges them, so a
report the broker handed over is never lost; deployments are published from the loop
thread and waited for (PUBACK).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import paho.mqtt.client as mqtt

from qiloop.core.errors import QiloopError, StoreError
from qiloop.fleet.controller import FleetController
from qiloop.fleet.file_server import FileServer
from qiloop.fleet.rollout import Rollout
from qiloop.protocol.mqtt import TlsFiles, mqtt_client
from qiloop.protocol.topics import HELLO_WILDCARD, REPORT_WILDCARD, STATUS_WILDCARD

log = logging.getLogger(__name__)
TOPICS = (REPORT_WILDCARD, HELLO_WILDCARD, STATUS_WILDCARD)


class ControllerService:
    """Runs a :class:`FleetController` against a broker until stopped.

    Args:
        controller: The controller (its ``publish`` is set to this service's client).
        client: A paho client (callback API 2, ``clean_session=False``) that knows its broker.
        server: The file server over the controller's component store.
        broker_url: For messages and the heartbeat.
        collector: Optional results collector started and stopped with the service.
        interval: Seconds between rollout steps when no message arrives.
    """

    def __init__(
        self, controller: FleetController, client: mqtt.Client, server: FileServer, *, broker_url: str,
        collector=None, interval: float = 0.2, name: str = "qiloop-fleet-controller",
    ) -> None:  # fmt: skip
        self.controller, self.client, self.server, self.collector = controller, client, server, collector
        self.broker_url, self.interval, self.name = broker_url, interval, name
        controller.publish = self._publish
        self._subscribed, self._wake, self._stop = threading.Event(), threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._collecting = False
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.on_message = self._on_message

    @classmethod
    def create(
        cls, settings, broker_url: str, *, host: str = "127.0.0.1", port: int = 8470, collect: bool = True,
        client_id: str = "qiloop-fleet-controller", tls: TlsFiles | None = None, verify_devices: bool = True,
        **options,
    ) -> ControllerService:  # fmt: skip
        """The service of a qiloop home on ``broker_url``, serving files on ``host:port`` (0: any free port).

        ``tls``: the CA, client certificate and key for an ``mqtts://`` broker. ``verify_devices`` (the
        default) believes only messages signed by enrolled devices, in the controller and the collector.
        """
        controller = FleetController.from_settings(settings, verify_devices=verify_devices, **options)
        client = mqtt_client(broker_url, client_id, clean_session=False, tls=tls, reconnect_s=(0.2, 10.0))
        server = FileServer.from_settings(controller.store, settings, host=host, port=port)
        collector = None
        if collect:
            from qiloop.fleet.collector import Collector

            collector = Collector.connect(
                broker_url, settings, client_id=f"{client_id}-collector", tls=tls, verify_devices=verify_devices
            )
        return cls(controller, client, server, broker_url=broker_url, collector=collector, name=client_id)

    @property
    def files_url(self) -> str:
        return self.server.url

    def start(self, timeout: float = 10.0) -> ControllerService:
        """Serve files, connect and subscribe, start the collector and the rollout loop.

        Raises:
            StoreError: The broker did not accept the subscriptions within ``timeout``.
        """
        self.server.start()
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise StoreError(
                f"no MQTT broker accepted the fleet controller at {self.broker_url} within {timeout:g} s",
                hint="check that the broker runs and the URL (mqtt://host:port) is right",
            )
        if self.collector is not None:
            self.collector.start(timeout)
            self._collecting = True
        self._thread = threading.Thread(target=self._loop, name="qiloop-fleet-controller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the loop, the collector, the MQTT session (kept by the broker) and the file server."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        if self.collector is not None and self._collecting:
            self.collector.stop()
            self._collecting = False
        self.client.disconnect()
        self.client.loop_stop()
        self.server.stop()

    def __enter__(self) -> ControllerService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_rollout(self, rollout_id: str, timeout: float) -> Rollout:
        """The rollout once it ended (or as it is when ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while True:
            rollout = self.controller.db.rollout(rollout_id)
            if rollout is None or rollout.phase.ended or time.monotonic() >= deadline:
                return rollout
            time.sleep(0.05)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.controller.step()
                self.controller.db.heartbeat(self.name, self.broker_url, self.files_url, os.getpid())
            except QiloopError as exc:  # the broker is away: the rollouts wait, unchanged, for the next step
                log.warning("fleet controller step failed: %s", exc.message)
            except Exception:
                log.exception("fleet controller step failed")

    def _publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=True)
        try:
            info.wait_for_publish(10)
        except (RuntimeError, ValueError) as exc:
            raise StoreError(f"cannot publish on {topic}: {exc}", hint="check the broker") from exc
        if not info.is_published():
            raise StoreError(f"the broker did not acknowledge {topic} within 10 s", hint="check the broker")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("the broker refused the fleet controller: %s", reason_code)
            return
        client.subscribe([(topic, 1) for topic in TOPICS])

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        try:
            self.controller.receive(msg.topic, msg.payload)
        except QiloopError as exc:
            log.error("could not record a message on %s: %s", msg.topic, exc.message)
        self._wake.set()
