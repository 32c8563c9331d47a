"""Serve a component store over HTTP, the way devices fetch components.

``GET /v1/components/<name>/<version>`` answers the component document (JSON);
``GET /v1/files/<sha256>`` streams a file by its content address; anything else is
404. The server counts the bytes it sent per path, so a test or a benchmark can
measure exactly what a deployment transferred. A standard-library
``ThreadingHTTPServer`` on a background thread: enough for a fleet of devices that
fetch each file once, and nothing to install.
"""

from __future__ import annotations

import errno
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from qiloop.broker.addresses import local_host, reachable_host
from qiloop.core.errors import ConfigurationError, QiloopError, StoreError
from qiloop.fleet.component_store import ComponentStore

_COMPONENT = re.compile(r"^/v1/components/([a-z0-9][a-z0-9._-]{0,63})/(\d+(?:\.\d+)*)$")
_FILE = re.compile(r"^/v1/files/([0-9a-f]{64})$")
CHUNK = 1 << 16


class FileServer:
    """An HTTP server for one :class:`ComponentStore`.

    Example:
        >>> with FileServer(ComponentStore.from_url("/tmp/components")) as server:  # doctest: +SKIP
        ...     print(server.url, server.bytes_served)
    """

    def __init__(self, store: ComponentStore, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store
        self.served: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.host = host
        try:
            self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"port {port} on {host} is already in use, so the component file server cannot listen there",
                    hint="stop what listens there (another qiloop fleet serve?) or choose another --port",
                ) from exc
            raise StoreError(f"the component file server cannot listen on {host}:{port}: {exc}",
                             hint="check --host (an address of this machine, or 0.0.0.0)") from exc  # fmt: skip
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port``, as a client on this machine dials it."""
        return f"http://{local_host(self.host)}:{self._httpd.server_address[1]}"

    @property
    def public_url(self) -> str:
        """The URL devices elsewhere dial (the machine's address when bound to every interface)."""
        return f"http://{reachable_host(self.host)}:{self._httpd.server_address[1]}"

    @property
    def bytes_served(self) -> int:
        """Body bytes sent so far, over every path."""
        with self._lock:
            return sum(self.served.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.served.clear()
            self.requests.clear()

    def start(self) -> FileServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="qiloop-file-server", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _count(self, path: str, sent: int) -> None:
        with self._lock:
            self.served[path] += sent
            self.requests[path] += 1


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if match := _COMPONENT.match(self.path):
                self._component(*match.groups())
            elif match := _FILE.match(self.path):
                self._file(match.group(1))
            else:
                self._send(404, b"not found\n", "text/plain")

        def _component(self, name: str, version: str) -> None:
            try:
                component = server.store.find(name, version)
            except QiloopError:
                component = None
            if component is None:
                self._send(404, f"no component {name}/{version}\n".encode(), "text/plain")
                return
            self._send(200, component.model_dump_json().encode(), "application/json")

        def _file(self, sha256: str) -> None:
            local = server.store.local_file(sha256)
            if local is None and not server.store.has_file(sha256):
                self._send(404, b"no such file\n", "text/plain")
                return
            if local is None:
                self._send(200, server.store.read_file(sha256), "application/octet-stream")
                return
            size = local.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            sent = 0
            try:
                with local.open("rb") as f:
                    while chunk := f.read(CHUNK):
                        self.wfile.write(chunk)
                        sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the device stopped reading (e.g. the file was longer than it expected)
            finally:
                server._count(self.path, sent)

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                return
            server._count(self.path, len(body) if code == 200 else 0)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


__all__ = ["FileServer"]
