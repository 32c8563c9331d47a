"""Downloads over a real HTTP server: verified while streaming, refused when wrong."""

from __future__ import annotations

import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qiloop.core.components import ComponentFile
from qiloop.edge.agent.download import IntegrityError, TransferError, fetch

DATA = bytes(range(256)) * 400  # 102,400 bytes


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _entry(data=DATA):
    return ComponentFile(name="model.onnx", sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def test_the_right_file_is_fetched_once(server, tmp_path):
    root, url = server
    (root / "f").write_bytes(DATA)
    dest = tmp_path / "dl" / "model.onnx"
    assert fetch(f"{url}/f", _entry(), dest) == len(DATA)
    assert dest.read_bytes() == DATA
    assert fetch(f"{url}/f", _entry(), dest) == 0  # already here: nothing transferred


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0xFF
    return bytes(b)


@pytest.mark.parametrize(
    ("served", "match"),
    [
        (_flip(DATA, 0), "sha256"),
        (_flip(DATA, len(DATA) // 2), "sha256"),
        (_flip(DATA, len(DATA) - 1), "sha256"),
        (DATA[:-10], "ended after"),
        (DATA + b"extra", "longer than"),
    ],
    ids=["flip-start", "flip-middle", "flip-end", "truncated", "extended"],
)
def test_wrong_bytes_are_refused_and_leave_nothing(server, tmp_path, served, match):
    root, url = server
    (root / "f").write_bytes(served)
    dest = tmp_path / "dl" / "model.onnx"
    with pytest.raises(IntegrityError, match=match):
        fetch(f"{url}/f", _entry(), dest)
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_wrong_file_already_present_is_replaced(server, tmp_path):
    root, url = server
    (root / "f").write_bytes(DATA)
    dest = tmp_path / "model.onnx"
    dest.write_bytes(_flip(DATA, 5))
    assert fetch(f"{url}/f", _entry(), dest) == len(DATA)
    assert dest.read_bytes() == DATA


def test_http_and_network_errors_are_transfer_errors(server, tmp_path):
    _, url = server
    with pytest.raises(TransferError, match="HTTP 404"):
        fetch(f"{url}/missing", _entry(), tmp_path / "x")
    with pytest.raises(TransferError):
        fetch("http://127.0.0.1:9/none", _entry(), tmp_path / "y", timeout=2)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
