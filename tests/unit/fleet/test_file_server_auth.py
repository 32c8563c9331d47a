"""The component file server for a real fleet: per-device tokens, HTTPS, and no idle connection kept forever.

Every request goes over a real socket; downloads use the device's own downloader
(:func:`qiloop.edge.agent.download.fetch`), which knows nothing of tokens: the token is in
the controller URL the device is given.
"""

from __future__ import annotations

import socket
import ssl
import time
import urllib.error
import urllib.request

import pytest

from qiloop.broker.certs import issue, new_ca
from qiloop.core.components import ComponentFile
from qiloop.edge.agent.download import TransferError, fetch
from qiloop.fleet.component_store import ComponentStore
from qiloop.fleet.download_tokens import DownloadTokens
from qiloop.fleet.file_server import FileServer, server_context

DATA = b"model weights " * 1000


def file_url(base: str, sha256: str) -> str:
    return f"{base}/v1/files/{sha256}"  # as the device builds it from its controller URL


def component_url(base: str, name: str, version: str) -> str:
    return f"{base}/v1/components/{name}/{version}"


@pytest.fixture
def store(tmp_path):
    store = ComponentStore.from_url(tmp_path / "components")
    store.publish("scratch-detector", "3", "model", {"model.onnx": DATA})
    return store


@pytest.fixture
def tokens(tmp_path):
    return DownloadTokens.from_home(tmp_path / "home")


def entry(store) -> ComponentFile:
    (file,) = store.get("scratch-detector", "3").files
    return file


def status(url: str, context: ssl.SSLContext | None = None) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_token_secret_is_made_once_private_and_tokens_differ_per_device(tmp_path, tokens):
    secret = tmp_path / "home" / "keys" / "download-token.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    again = DownloadTokens.from_home(tmp_path / "home")
    assert again.token("cam-1") == tokens.token("cam-1") != tokens.token("cam-2")
    assert DownloadTokens(b"another secret of at least 32 bytes!").token("cam-1") != tokens.token("cam-1")


def test_without_a_token_or_with_another_devices_token_nothing_is_served(store, tokens):
    with FileServer(store, tokens=tokens) as server:
        sha = entry(store).sha256
        own = server.device_url("cam-1")
        stolen = f"{server.url}/d/cam-1/{tokens.token('cam-2')}"
        assert status(file_url(server.url, sha)) == 401
        assert status(component_url(server.url, "scratch-detector", "3")) == 401
        assert status(file_url(stolen, sha)) == 403
        assert status(file_url(f"{server.url}/d/cam-1/", sha)) == 403
        assert status(file_url(f"{server.url}/d/cam-1/{tokens.token('cam-1')[:-1]}x", sha)) == 403
        assert status(component_url(own, "scratch-detector", "3")) == 200
        assert server.refused == {401: 2, 403: 3}
        assert server.bytes_served < 1000  # only the component document went out


def test_the_device_downloads_through_its_own_url_and_is_refused_without_it(store, tokens, tmp_path):
    file = entry(store)
    with FileServer(store, tokens=tokens) as server:
        with pytest.raises(TransferError, match="HTTP 401"):
            fetch(file_url(server.url, file.sha256), file, tmp_path / "plain" / "model.onnx")
        assert not (tmp_path / "plain" / "model.onnx").exists()
        got = fetch(file_url(server.device_url("cam-1"), file.sha256), file, tmp_path / "own" / "model.onnx")
        assert got == len(DATA) and (tmp_path / "own" / "model.onnx").read_bytes() == DATA
        assert server.served[f"/v1/files/{file.sha256}"] == len(DATA)  # counted without the device prefix


def test_without_tokens_the_development_server_serves_plain_and_device_urls(store, tmp_path):
    file = entry(store)
    with FileServer(store) as server:
        assert server.device_url("cam-1") == server.public_url
        assert status(file_url(server.url, file.sha256)) == 200
        assert status(file_url(f"{server.url}/d/cam-1/anything", file.sha256)) == 200


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (reading b""), or None if it stayed open."""
    sock.settimeout(seconds)
    start = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_an_idle_connection_is_closed_after_the_timeout(store):
    with FileServer(store, idle_timeout_s=0.5) as server:
        port = int(server.url.rsplit(":", 1)[1])
        silent = socket.create_connection(("127.0.0.1", port))
        kept = socket.create_connection(("127.0.0.1", port))
        kept.sendall(b"GET /v1/components/scratch-detector/3 HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive
        try:
            assert (took := closed_within(silent, 5)) is not None and took < 3
            assert (took := closed_within(kept, 5)) is not None and took < 3
        finally:
            silent.close()
            kept.close()
        assert status(component_url(server.url, "scratch-detector", "3")) == 200  # and it still serves


def test_https_with_a_certificate_and_a_silent_client_blocks_nobody(store, tokens, tmp_path):
    ca = new_ca()
    cert, key = issue(ca, "127.0.0.1", hosts=["127.0.0.1", "localhost"]).write(tmp_path / "tls", "fleet")
    (tmp_path / "tls" / "ca.pem").write_bytes(ca.cert_pem)
    trusted = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.pem"))
    file = entry(store)
    with FileServer(store, tokens=tokens, tls=server_context(cert, key), idle_timeout_s=2) as server:
        assert server.url.startswith("https://")
        port = int(server.url.rsplit(":", 1)[1])
        silent = socket.create_connection(("127.0.0.1", port))  # connects, never says hello
        try:
            start = time.monotonic()
            assert status(file_url(server.device_url("cam-1"), file.sha256), trusted) == 200
            assert time.monotonic() - start < 1.5
            assert status(file_url(server.url, file.sha256), trusted) == 401
            with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
                urllib.request.urlopen(server.url, timeout=10, context=ssl.create_default_context())
            with pytest.raises((urllib.error.URLError, ConnectionError)):
                urllib.request.urlopen(server.url.replace("https://", "http://") + "/v1/files/x", timeout=10)
        finally:
            silent.close()


def test_download_url_prints_the_devices_controller_url_with_its_token(tmp_path, capsys):
    from qiloop.cli.main import main

    home = tmp_path / "home"
    assert main(["fleet", "download-url", "--device", "cam-1", "--base", "https://fleet.example.com:8470/",
                 "--home", str(home)]) == 0  # fmt: skip
    printed = capsys.readouterr().out.strip()
    assert printed == DownloadTokens.from_home(home).device_url("https://fleet.example.com:8470", "cam-1")
    assert printed.startswith("https://fleet.example.com:8470/d/cam-1/")
    assert main(["fleet", "download-url", "--device", "cam-1", "--base", "fleet:8470", "--home", str(home)]) == 2
    assert main(["fleet", "download-url", "--device", "Cam 1", "--base", "https://f", "--home", str(home)]) == 2
