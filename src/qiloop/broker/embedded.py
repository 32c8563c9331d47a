"""An MQTT broker inside the qiloop process, for the laptop set-up with no broker to install.

When no broker URL is configured, qiloop starts this one on the loopback
interface and on a free port (a system broker may already own 1883). It runs
``amqtt``'s asyncio broker on a background thread with its own event loop, so
synchronous code (the CLI, the collector, the device publisher, tests) keeps its
own threads. It speaks MQTT 3.1.1 with QoS 0/1/2, retained messages and
persistent sessions (``clean_session=False``); sessions and retained messages
live in memory and end with the process. Anything larger than a laptop sets
``QILOOP_MQTT_URL`` to a real broker (Mosquitto, EMQX, AWS IoT Core).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from concurrent.futures import Future
from typing import Any

from qiloop.broker.addresses import local_host, reachable_host
from qiloop.core.errors import ConfigurationError, StoreError, require

log = logging.getLogger(__name__)
_BIND_ATTEMPTS = 5


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def broker_config(host: str, port: int) -> dict[str, Any]:
    """amqtt's configuration: one TCP listener, every client admitted, sessions kept until the broker stops."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": -1}},
        "plugins": {"qiloop.broker.open_auth.OpenAuthPlugin": {}},
    }


class EmbeddedBroker:
    """An MQTT broker on a background thread of this process.

    Args:
        host: Interface to listen on; the loopback one keeps the broker private to this machine.
        port: TCP port; 0 picks a free one (read it back from :attr:`port` or :attr:`url`).
        start_timeout: Seconds :meth:`start` waits for the listener.

    Example:
        >>> with EmbeddedBroker() as broker:  # doctest: +SKIP
        ...     publisher = MqttPublisher.connect(broker.url, outbox, "cam-1")
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, start_timeout: float = 10.0) -> None:
        self.host, self.port, self.start_timeout = host, port, start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker, as clients on this machine dial it."""
        return f"mqtt://{local_host(self.host)}:{self.port}"

    @property
    def public_url(self) -> str:
        """The URL devices elsewhere dial (the same as :attr:`url` on the loopback interface)."""
        return f"mqtt://{reachable_host(self.host)}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> EmbeddedBroker:
        """Start the broker thread; returns once the broker accepts connections.

        Raises:
            MissingDependencyError: ``amqtt`` is not installed (``pip install 'qiloop[broker]'``).
            ConfigurationError: The fixed port is taken (another broker, such as Mosquitto, listens there).
            StoreError: The broker could not listen on the address (bad host, no permission).
        """
        if self.running:
            return self
        require("amqtt.broker", "broker")
        fixed = self.port != 0
        for attempt in range(1 if fixed else _BIND_ATTEMPTS):
            port = self.port if fixed else free_port(self.host)
            try:
                self._start_on(port)
                return self
            except OSError as exc:  # another process took the free port between our look and our bind
                if fixed and exc.errno == errno.EADDRINUSE:
                    raise ConfigurationError(
                        f"port {port} on {self.host} is already in use, so the embedded MQTT broker cannot "
                        "listen there (is Mosquitto or another broker running?)",
                        hint=f"use that broker (QILOOP_MQTT_URL=mqtt://{local_host(self.host)}:{port}), "
                        "or choose another --port",
                    ) from exc
                if fixed or attempt == _BIND_ATTEMPTS - 1:
                    raise StoreError(
                        f"the embedded MQTT broker cannot listen on {self.host}:{port}: {exc}",
                        hint="choose another port, or set QILOOP_MQTT_URL to use a running broker",
                    ) from exc
        raise AssertionError("unreachable")

    def _start_on(self, port: int) -> None:
        ready: Future[None] = Future()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._serve, args=(loop, port, ready), name="qiloop-mqtt-broker", daemon=True)
        thread.start()
        try:
            ready.result(self.start_timeout)
        except TimeoutError as exc:
            loop.call_soon_threadsafe(loop.stop)
            raise StoreError(f"the embedded MQTT broker did not start within {self.start_timeout:g} s") from exc
        except BaseException:
            thread.join(self.start_timeout)
            raise
        self._loop, self._thread, self.port = loop, thread, port
        log.info("embedded MQTT broker listening on %s", self.url)

    def _serve(self, loop: asyncio.AbstractEventLoop, port: int, ready: Future[None]) -> None:
        from amqtt.broker import Broker
        from amqtt.errors import BrokerError

        asyncio.set_event_loop(loop)
        try:
            try:
                self._broker = Broker(broker_config(self.host, port), loop=loop)
                loop.run_until_complete(self._broker.start())
            except BrokerError as exc:
                cause = exc.__cause__
                ready.set_exception(cause if isinstance(cause, OSError) else StoreError(f"amqtt: {exc}"))
                return
            except Exception as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
        finally:
            _cancel_pending(loop)
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect every client, close the listener and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), loop).result(timeout)
        except Exception:
            log.warning("the embedded MQTT broker did not shut down cleanly", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop = self._thread = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the broker left running (client handlers of a stop mid-session) before the loop closes."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
