"""The cloud side of the device messages: subscribe, de-duplicate, store, count.

A :class:`Collector` holds one paho client with a persistent session
(``clean_session=False``, QoS 1 subscriptions): while it is away the broker
keeps what the devices publish for it, and a restarted collector with the same
client id receives it. paho acknowledges a QoS 1 message after the message
callback returns, so a message is on disk (see :mod:`qiloop.fleet.intake`)
before the broker forgets it. When storing fails because a store is down (the
image store or the database), the callback retries under the
:data:`~qiloop.core.retry.STORE_WRITE` policy and holds the acknowledgement
meanwhile; a message that still fails, or fails for any other reason, is written
whole to the dead-letter folder before it is acknowledged, so nothing is lost
either way.

Everything runs on paho's network thread; :meth:`Collector.stats`,
:meth:`Collector.wait_idle` and the callbacks' registration are safe from others.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt

from qiloop.core.errors import StoreError
from qiloop.core.retry import BROKER_RECONNECT, STORE_WRITE, Interrupted, Policy
from qiloop.fleet.device_trust import DeviceTrust
from qiloop.fleet.intake import Intake, Outcome
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.messages import InferenceResult
from qiloop.protocol.mqtt import TlsFiles, mqtt_client
from qiloop.protocol.topics import DEVICE_ROOT, RESULT_TOPIC
from qiloop.settings import Settings

log = logging.getLogger(__name__)
OUTCOMES = ("received", "stored", "duplicate", "rejected", "invalid", "failed")


@dataclass(frozen=True)
class CollectorStats:
    """Counts since the collector started: ``counts[kind][outcome]``, kinds result/status/feedback/unknown."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, outcome: str) -> int:
        """One outcome (``received``, ``stored``, ``duplicate``, ``rejected``, ``invalid``, ``failed``), all kinds."""
        return sum(c.get(outcome, 0) for c in self.counts.values())

    def of(self, kind: str) -> dict[str, int]:
        """The counters of one kind (zeros when none arrived)."""
        return dict(self.counts.get(kind, dict.fromkeys(OUTCOMES, 0)))


class Collector:
    """Receives results, status and feedback images from the fleet and stores each once.

    Args:
        client: A paho client (callback API version 2, ``clean_session=False``) that knows
            its broker (``connect_async`` was called); the collector starts its loop.
        intake: Checks and stores each message; its topics are the ones subscribed to.
        url: The broker's URL, for messages.
    """

    def __init__(
        self,
        client: mqtt.Client,
        intake: Intake,
        *,
        url: str = "",
        dead_letter: Path | None = None,
        retry: Policy = STORE_WRITE,
    ) -> None:
        self.client, self.intake, self.url = client, intake, url
        self.dead_letter, self.retry = dead_letter, retry
        self._stopping = threading.Event()
        root = intake.device_root
        self.topics = (intake.results_topic, f"{root}/+/status", f"{root}/+/feedback")
        self._result_callbacks: list[Callable[[InferenceResult], None]] = []
        self._counts: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._busy = False
        self._last_activity = time.monotonic()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message

    @classmethod
    def connect(
        cls,
        url: str,
        settings: Settings,
        *,
        client_id: str = "qiloop-collector",
        db_path: str | Path | None = None,
        results_topic: str = RESULT_TOPIC,
        device_root: str = DEVICE_ROOT,
        keepalive: int = 30,
        tls: TlsFiles | None = None,
        verify_devices: bool = True,
    ) -> Collector:
        """A collector for the broker at ``url`` storing into the fleet database and image store of ``settings``.

        Keep ``client_id`` stable: the broker holds the session (and the messages
        that arrive while the collector is away) under that id. ``results_topic`` and
        ``device_root`` (``<root>/+/status``, ``<root>/+/feedback``) are the topics to follow.
        ``tls``: the CA, client certificate and key for an ``mqtts://`` broker. ``verify_devices``
        (the default) stores only messages signed by devices enrolled in the home's ``fleet.db``;
        the others count as ``rejected``.
        """
        from qiloop.storage.image_store import ImageStore

        reconnect = BROKER_RECONNECT.with_(max_s=10.0)
        client = mqtt_client(
            url, client_id, clean_session=False, tls=tls, keepalive=keepalive, reconnect_s=(reconnect.first_s, 10.0)
        )
        db = ResultsDB.from_settings(settings, db_path)
        trust = DeviceTrust(FleetDB.from_settings(settings), device_root=device_root) if verify_devices else None
        intake = Intake(db, ImageStore.from_settings(settings), results_topic=results_topic, device_root=device_root,
                        trust=trust)  # fmt: skip
        return cls(client, intake, url=url, dead_letter=settings.home / "fleet-dead-letter")

    def on_result(self, callback: Callable[[InferenceResult], None]) -> None:
        """Call ``callback`` (on the network thread) with every newly stored result."""
        self._result_callbacks.append(callback)

    def start(self, timeout: float = 10.0) -> Collector:
        """Start the network thread and wait until the broker confirmed the subscriptions.

        Raises:
            StoreError: The broker did not accept the connection and subscriptions within ``timeout``.
        """
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            self.client.loop_stop()
            raise StoreError(
                f"no MQTT broker accepted the collector's subscriptions at {self.url or 'the broker'}"
                f" within {timeout:g} s",
                hint="check that the broker runs and the URL (mqtt://host:port) is right",
            )
        return self

    def stop(self) -> None:
        """Disconnect (the broker keeps the session), stop the network thread, close the database."""
        self._stopping.set()
        self.client.disconnect()
        self.client.loop_stop()
        self.intake.db.close()
        if self.intake.trust is not None:
            self.intake.trust.db.close()

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> CollectorStats:
        """A snapshot of the counters."""
        with self._lock:
            return CollectorStats({k: dict(v) for k, v in self._counts.items()})

    def wait_idle(self, timeout: float, quiet: float = 0.5) -> bool:
        """Wait until no message arrived for ``quiet`` seconds; False if that did not happen within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if not self._busy and now - self._last_activity >= quiet:
                return True
            if now >= deadline:
                return False
            time.sleep(min(0.05, quiet))

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("the broker refused the collector: %s", reason_code)
            return
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("the broker refused subscriptions %s: %s", self.topics, refused)
            return
        self._subscribed.set()

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self._busy, self._last_activity = True, time.monotonic()
        try:
            outcome = self._store(msg)
            if outcome.status == "failed":
                self._park(msg, outcome)
            self._record(outcome)
        finally:
            self._busy, self._last_activity = False, time.monotonic()

    def _store(self, msg: mqtt.MQTTMessage) -> Outcome:
        """Store ``msg`` under the retry policy while its failures are retryable; the last outcome."""

        def waiting(delay: float, outcome: Outcome) -> None:
            log.warning("storing a %s message failed (%s); retrying in %g s", outcome.kind, outcome.reason, delay)

        try:
            return self.retry.call(
                lambda: self.intake.handle(msg.topic, msg.payload),
                retry_if_result=lambda outcome: outcome.retryable,
                stop=self._stopping,
                on_wait=waiting,
            )
        except Interrupted as exc:  # stopping: the last outcome goes to the dead-letter folder
            assert exc.last is not None
            return exc.last.result()

    def _park(self, msg: mqtt.MQTTMessage, outcome: Outcome) -> None:
        """Keep a message that could not be stored as a file, to replay once the store is back."""
        if self.dead_letter is None:
            log.error(
                "a %s message could not be stored and there is no dead-letter folder: %s", outcome.kind, outcome.reason
            )
            return
        self.dead_letter.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{outcome.kind}.json"
        body = json.dumps(
            {"topic": msg.topic, "reason": outcome.reason, "payload": msg.payload.decode("utf-8", "replace")}
        )
        (self.dead_letter / name).write_text(body)
        log.error(
            "a %s message could not be stored (%s); kept in %s", outcome.kind, outcome.reason, self.dead_letter / name
        )

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            counts = self._counts.setdefault(outcome.kind, dict.fromkeys(OUTCOMES, 0))
            counts["received"] += 1
            counts[outcome.status] += 1
        message = outcome.message
        who = f"{message.device_id}/{message.sequence}" if message is not None else "?"
        if outcome.status in ("invalid", "rejected"):
            log.warning("dropped a %s %s message from %s: %s", outcome.status, outcome.kind, who, outcome.reason)
        elif outcome.status == "stored" and isinstance(message, InferenceResult):
            for callback in list(self._result_callbacks):
                try:
                    callback(message)
                except Exception:  # a display callback must not stop the intake
                    log.exception("an on_result callback failed on %s", who)
