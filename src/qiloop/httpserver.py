"""An ASGI app under uvicorn: in the foreground for a command, on a background thread for tests and tools.

Shared by the inference endpoint (``qiloop.serving``) and the labelling service
(``qiloop.labeling.api``); each sets its own names and shutdown grace.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn

from qiloop.core.errors import ConfigurationError, QiloopError


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def serve_forever(
    app,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    grace_s: float = 10,
    backlog: int = 2048,
    proxy_headers: bool = False,
):
    """Serve ``app`` until interrupted (Ctrl-C or SIGTERM stop it cleanly, finishing requests for ``grace_s``).

    ``proxy_headers``: True turns on uvicorn's own handling, which believes ``X-Forwarded-*`` from localhost;
    off by default, so a client on this machine cannot pose as another address or scheme.

    Raises:
        ConfigurationError: The address cannot be bound (in use, or not this machine's).
    """
    try:
        sock = bind(host, port, backlog)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="choose another --port or --host"
        ) from exc
    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=grace_s, proxy_headers=proxy_headers)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        server.run(sockets=[sock])


class BackgroundServer:
    """uvicorn on a daemon thread, on a free port of ``host``; a context manager.

    Args:
        app: The ASGI app.
        what: How errors name the service ("the HTTP server").
        thread_name: The serving thread's name.
        grace_s: Seconds requests in flight may take to finish on :meth:`stop`.
        stop_timeout_s: Default wait for the thread in :meth:`stop`.
        proxy_headers: As for :func:`serve_forever`.

    Example:
        >>> with BackgroundServer(create_app(holder)) as server:  # doctest: +SKIP
        ...     httpx.get(f"{server.url}/healthz")
    """

    def __init__(
        self,
        app,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        *,
        what: str = "the HTTP server",
        thread_name: str = "qiloop-http",
        grace_s: float = 10,
        stop_timeout_s: float = 30,
        backlog: int = 2048,
        proxy_headers: bool = False,
    ) -> None:
        self._sock = bind(host, port, backlog)
        self.host, self.port = host, self._sock.getsockname()[1]
        self.what, self.stop_timeout_s = what, stop_timeout_s
        config = uvicorn.Config(
            app, log_level=log_level, timeout_graceful_shutdown=grace_s, proxy_headers=proxy_headers
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, name=thread_name, daemon=True
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
                raise QiloopError(f"{self.what} did not start on {self.url}", hint="see its log above")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Finish the requests in flight, run the app's shutdown, and join the thread."""
        self.server.should_exit = True
        self._thread.join(self.stop_timeout_s if timeout is None else timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
