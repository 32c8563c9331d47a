"""Serve a component store over HTTP(S), the way devices fetch components.

``GET /v1/components/<name>/<version>`` answers the component document (JSON);
``GET /v1/files/<sha256>`` streams a file by its content address; anything else is
404. The server counts the bytes it sent per path, so a test or a benchmark can
measure exactly what a deployment transferred. A standard-library
``ThreadingHTTPServer`` on a background thread: enough for a fleet of devices that
fetch each file once, and nothing to install.

For a fleet beyond one machine:

- ``tokens``: every request must carry a device's token in its path
  (``/d/<device>/<token>/v1/...``, see :mod:`qiloop.fleet.download_tokens`): none is 401,
  a wrong one or another device's 403. Without ``tokens`` (development) the prefix is ignored.
- ``tls``: HTTPS with the given certificate (the handshake runs in the connection's own
  thread, under the idle timeout, so a client that never speaks blocks nobody).
- ``presign_s``: when the store is on S3, a file request is answered ``307`` with a presigned
  URL valid that long, so the device downloads from the object store directly.
- ``idle_timeout_s``: a connection that sends nothing (or stops reading) that long is closed;
  no idle connection is kept forever.
"""

from __future__ import annotations

import errno
import logging
import re
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from qiloop.broker.addresses import local_host, reachable_host
from qiloop.core.errors import ConfigurationError, QiloopError, StoreError
from qiloop.fleet.component_store import ComponentStore
from qiloop.fleet.download_tokens import DownloadTokens, split_path

log = logging.getLogger(__name__)

_COMPONENT = re.compile(r"^/v1/components/([a-z0-9][a-z0-9._-]{0,63})/(\d+(?:\.\d+)*)$")
_FILE = re.compile(r"^/v1/files/([0-9a-f]{64})$")
CHUNK = 1 << 16
IDLE_TIMEOUT_S = 60.0


def server_context(cert_file: str | Path, key_file: str | Path | None = None) -> ssl.SSLContext:
    """A TLS server context from a PEM certificate (chain) and its key.

    Raises:
        ConfigurationError: The files are missing or do not hold a certificate and its key.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot load the file server's certificate {cert_file}: {exc}",
            hint="give a PEM certificate and its key (qiloop broker certs --server ...)",
        ) from exc
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None
    idle_timeout_s: float = IDLE_TIMEOUT_S

    def finish_request(self, request, client_address) -> None:
        # Runs in the connection's own thread: the TLS handshake too, under the idle timeout.
        request.settimeout(self.idle_timeout_s)
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address, exc)
                return
        try:
            super().finish_request(request, client_address)
        finally:
            if self.tls is not None:
                request.close()

    def handle_error(self, request, client_address) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class FileServer:
    """An HTTP(S) server for one :class:`ComponentStore`.

    Example:
        >>> with FileServer(ComponentStore.from_url("/tmp/components")) as server:  # doctest: +SKIP
        ...     print(server.url, server.bytes_served)
    """

    def __init__(
        self, store: ComponentStore, *, host: str = "127.0.0.1", port: int = 0, tokens: DownloadTokens | None = None,
        tls: ssl.SSLContext | None = None, presign_s: float | None = None, idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:  # fmt: skip
        self.store = store
        self.tokens, self.tls, self.presign_s = tokens, tls, presign_s
        self.served: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.refused: Counter[int] = Counter()
        self._lock = threading.Lock()
        self.host = host
        try:
            self._httpd = _Server((host, port), _handler(self))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"port {port} on {host} is already in use, so the component file server cannot listen there",
                    hint="stop what listens there (another qiloop fleet serve?) or choose another --port",
                ) from exc
            raise StoreError(f"the component file server cannot listen on {host}:{port}: {exc}",
                             hint="check --host (an address of this machine, or 0.0.0.0)") from exc  # fmt: skip
        self._httpd.tls, self._httpd.idle_timeout_s = tls, idle_timeout_s
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, store: ComponentStore, settings, *, host: str = "127.0.0.1", port: int = 0) -> FileServer:
        """The file server a qiloop home's settings describe: tokens, HTTPS, presigned URLs (each when set)."""
        tokens = DownloadTokens.from_home(settings.home) if settings.fleet_download_tokens else None
        cert, key = settings.fleet_tls_cert_file, settings.fleet_tls_key_file
        tls = server_context(cert, key) if cert else None
        return cls(store, host=host, port=port, tokens=tokens, tls=tls, presign_s=settings.fleet_presign_s or None)

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        """``http(s)://host:port``, as a client on this machine dials it."""
        return f"{self.scheme}://{local_host(self.host)}:{self._httpd.server_address[1]}"

    @property
    def public_url(self) -> str:
        """The URL devices elsewhere dial (the machine's address when bound to every interface)."""
        return f"{self.scheme}://{reachable_host(self.host)}:{self._httpd.server_address[1]}"

    def device_url(self, device_id: str, base: str | None = None) -> str:
        """The controller URL to give ``device_id``: with its token in the path when tokens are required."""
        base = base or self.public_url
        return self.tokens.device_url(base, device_id) if self.tokens is not None else base

    @property
    def bytes_served(self) -> int:
        """Body bytes sent so far, over every path."""
        with self._lock:
            return sum(self.served.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.served.clear()
            self.requests.clear()
            self.refused.clear()

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

    def _refuse(self, code: int) -> None:
        with self._lock:
            self.refused[code] += 1


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            device, token, path = split_path(self.path)
            if server.tokens is not None:
                if device is None:
                    self._deny(401, b"a device token is needed: use the URL qiloop fleet download-url prints\n")
                    return
                if not server.tokens.check(device, token or ""):
                    self._deny(403, b"this token does not open this device's downloads\n")
                    return
            self.path = path  # counted and matched without the device prefix
            if match := _COMPONENT.match(path):
                self._component(*match.groups())
            elif match := _FILE.match(path):
                self._file(match.group(1))
            else:
                self._send(404, b"not found\n", "text/plain")

        def _deny(self, code: int, body: bytes) -> None:
            server._refuse(code)
            self.close_connection = True
            self._send(code, body, "text/plain", count=False)

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
            if local is None and server.presign_s and (url := server.store.presigned_url(sha256, server.presign_s)):
                self.send_response(307)
                self.send_header("Location", url)
                self.send_header("Content-Length", "0")
                self.end_headers()
                server._count(self.path, 0)
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
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                self.close_connection = True  # the device stopped reading (the file was longer than it expected?)
            finally:
                server._count(self.path, sent)

        def _send(self, code: int, body: bytes, content_type: str, *, count: bool = True) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                self.close_connection = True
                return
            if count:
                server._count(self.path, len(body) if code == 200 else 0)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


__all__ = ["FileServer", "server_context"]
