"""Drain the outbox to an MQTT broker, at least once.

One background thread owns the paho client and drives its network loop, so the
callbacks run on that thread and need no locks. It keeps at most ``max_inflight``
messages published but unacknowledged; a message leaves the outbox only in
``on_publish``, i.e. when the broker's PUBACK arrives. When the broker goes away
the thread reconnects under the :data:`~qiloop.core.retry.BROKER_RECONNECT` policy
(capped exponential back-off, stopped promptly by :meth:`MqttPublisher.stop`); paho re-sends its
unacknowledged messages after the reconnect, and a restarted process re-sends
everything still in the outbox. Duplicates are therefore possible (QoS 1): every
payload carries ``device_id`` and ``sequence`` so the cloud side drops them.

With a :class:`~qiloop.protocol.signed.MessageSigner` every JSON message is signed by the
device's key as it leaves (what waited in the outbox is signed by the key the device has
when it is sent); the fleet drops unsigned messages of enrolled devices.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time

import paho.mqtt.client as mqtt

from qiloop.core.errors import InvalidRecordError
from qiloop.core.retry import BROKER_RECONNECT, Interrupted
from qiloop.edge.agent.identity import signer_from_environment
from qiloop.edge.inference.outbox import Outbox
from qiloop.protocol.mqtt import TlsFiles, mqtt_client
from qiloop.protocol.signed import MessageSigner

log = logging.getLogger(__name__)


class MqttPublisher:
    """Publishes the outbox's messages with QoS 1 from a background thread.

    Args:
        client: A paho client (callback API version 2) that knows its broker
            (``connect_async`` was called); the publisher connects it.
        outbox: Where messages wait until the broker acknowledges them.
        max_inflight: Most messages published and not yet acknowledged.
        backoff: First and largest wait, in seconds, between reconnect attempts.
        poll_s: How long one turn of the network loop waits for traffic.
        signer: Signs each JSON message as it is sent (None: sent as stored).
    """

    def __init__(
        self,
        client: mqtt.Client,
        outbox: Outbox,
        *,
        max_inflight: int = 20,
        backoff: tuple[float, float] = (0.2, 30.0),
        poll_s: float = 0.05,
        signer: MessageSigner | None = None,
    ) -> None:
        self.client, self.outbox, self.signer = client, outbox, signer
        self.max_inflight, self.backoff, self.poll_s = max_inflight, backoff, poll_s
        self.connected = False
        self.connects = 0
        self._inflight: dict[int, int] = {}  # paho mid -> outbox sequence
        self._early: set[int] = set()  # mids reported before publish() returned
        self._cursor = 0  # highest sequence handed to paho by this process
        self._refused: object = None  # the reason code of a refused CONNACK
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish

    @classmethod
    def connect(
        cls,
        url: str,
        outbox: Outbox,
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
        tls: TlsFiles | ssl.SSLContext | None = None,
        signer: MessageSigner | None = None,
        **options: object,
    ) -> MqttPublisher:
        """Build a publisher for a broker URL; credentials in the URL win over the arguments.

        ``signer`` defaults to the device key of the process's environment (the agent home a
        nucleus gives its components, or ``QILOOP_DEVICE_KEY``); without one, messages leave unsigned.
        """
        client = mqtt_client(
            url, client_id, clean_session=True, tls=tls, username=username, password=password, keepalive=keepalive,
            reconnect_s=None, max_inflight=int(options.get("max_inflight", 20)),  # type: ignore[call-overload]
        )  # fmt: skip
        signer = signer if signer is not None else signer_from_environment()
        return cls(client, outbox, signer=signer, **options)  # type: ignore[arg-type]

    def start(self) -> MqttPublisher:
        """Start the background thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="qiloop-mqtt-publisher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to finish, disconnect cleanly and wait up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait until the outbox is empty; True if it drained within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.outbox.depth() > 0:
            if time.monotonic() > deadline or self._stop.wait(0.05):
                return self.outbox.depth() == 0
        return True

    def __enter__(self) -> MqttPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("the MQTT publisher stopped on an unexpected error; messages stay in the outbox")
            raise

    def _loop(self) -> None:
        reconnect = BROKER_RECONNECT.with_(first_s=self.backoff[0], max_s=self.backoff[1])
        while not self._stop.is_set():
            try:
                reconnect.call(self._open, retry_on=OSError, stop=self._stop, log=log, what="connecting to the broker")
            except Interrupted:
                return
            while not self._stop.is_set() and self.client.loop(timeout=self.poll_s) == mqtt.MQTT_ERR_SUCCESS:
                if self.connected:
                    self._fill()
            if self._stop.is_set():
                self.client.disconnect()
                self.client.loop(timeout=self.poll_s)
                return
            self.connected = False

    def _open(self) -> None:
        """Open the socket and wait for the broker's CONNACK.

        Raises:
            OSError: The broker is unreachable, refused the session, or closed the socket first.
        """
        self._refused = None
        self.client.reconnect()
        while not self.connected and not self._stop.is_set():
            rc = self.client.loop(timeout=self.poll_s)
            if self._refused is not None:
                raise ConnectionRefusedError(f"the broker refused the connection: {self._refused}")
            if rc != mqtt.MQTT_ERR_SUCCESS:
                raise ConnectionError(f"the broker closed the connection ({mqtt.error_string(rc)})")

    def _fill(self) -> None:
        room = self.max_inflight - len(self._inflight)
        if room <= 0:
            return
        for message in self.outbox.pending(room, after=self._cursor):
            info = self.client.publish(message.topic, self._signed(message.payload), qos=message.qos)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # not taken; any other code means paho holds it
                log.warning("paho's queue is full; sequence %d waits", message.sequence)
                return
            self._cursor = message.sequence
            early = info.mid in self._early
            self._early.discard(info.mid)
            if early and message.qos == 0:  # paho may report a QoS 0 message sent before publish() returns
                self.outbox.ack(message.sequence)
            else:
                self._inflight[info.mid] = message.sequence

    def _signed(self, payload: bytes) -> bytes:
        if self.signer is None:
            return payload
        try:
            return self.signer.sign_payload(payload)
        except (InvalidRecordError, ValueError) as exc:  # not a JSON message: nothing the fleet could check
            log.warning("a message that is not a JSON object leaves unsigned: %s", exc)
            return payload

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = reason_code
            return
        self.connected = True
        self.connects += 1

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        sequence = self._inflight.pop(mid, None)
        if sequence is not None:
            self.outbox.ack(sequence)
        else:
            self._early.add(mid)
