"""The labelling service under uvicorn: in the foreground for the CLI, on a thread for tests and bots."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn

from qiloop.core.errors import ConfigurationError, QiloopError


def serve_forever(app, *, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted (Ctrl-C or SIGTERM stop it cleanly).

    Raises:
        ConfigurationError: The address cannot be bound.
    """
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="choose another --port or --host"
        ) from exc
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=10))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


class BackgroundServer:
    """uvicorn on a daemon thread, on a free port; a context manager.

    Example:
        >>> with BackgroundServer(create_app(settings)) as server:  # doctest: +SKIP
        ...     httpx.get(f"{server.url}/healthz")
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self._sock = bind(host, port)
        self.host, self.port = host, self._sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5))
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, name="qiloop-labeling-http", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        """Start serving; returns once the app's startup has finished."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise QiloopError(f"the labelling service did not start on {self.url}", hint="see its log above")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Finish requests in flight and join the thread."""
        self.server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
