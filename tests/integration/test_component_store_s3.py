"""Components on S3: devices download from the object store by presigned URL, the controller sends no file bytes.

A real S3-compatible server (moto) on loopback holds the component store; the file server
answers a file request with a redirect to a presigned URL, which the device's own
downloader follows. The device still checks size and sha256 while it streams.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from qiloop.core.components import ComponentFile
from qiloop.edge.agent.download import fetch
from qiloop.fleet.component_store import ComponentStore
from qiloop.fleet.download_tokens import DownloadTokens
from qiloop.fleet.file_server import FileServer

pytestmark = pytest.mark.s3

BUCKET = "qiloop-components"
DATA = b"int8 weights " * 5000


def file_url(base: str, sha256: str) -> str:
    return f"{base}/v1/files/{sha256}"  # as the device builds it from its controller URL


@pytest.fixture(scope="module")
def endpoint(s3_server) -> str:
    """The S3 server's URL (see conftest), with the bucket made."""
    s3_server.bucket(BUCKET)
    return s3_server.url


@pytest.fixture
def store(endpoint, request):
    store = ComponentStore.from_url(f"s3://{BUCKET}/{request.node.name}", {"endpoint_url": endpoint})
    store.publish("scratch-detector", "3", "model", {"model.int8.onnx": DATA})
    return store


def entry(store) -> ComponentFile:
    (file,) = store.get("scratch-detector", "3").files
    return file


def test_devices_download_by_presigned_url_and_the_controller_sends_no_file_bytes(store, endpoint, tmp_path):
    file = entry(store)
    tokens = DownloadTokens(b"s" * 32)
    with FileServer(store, tokens=tokens, presign_s=60) as server:
        base = server.device_url("cam-1")
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(file_url(server.url, file.sha256), timeout=10)
        got = fetch(file_url(base, file.sha256), file, tmp_path / "model.int8.onnx")
        assert got == len(DATA) and (tmp_path / "model.int8.onnx").read_bytes() == DATA
        assert server.bytes_served == 0 and server.requests[f"/v1/files/{file.sha256}"] == 1
        request = urllib.request.Request(file_url(base, file.sha256))
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(request, timeout=10)
        assert redirect.value.code == 307
        location = redirect.value.headers["Location"]
        assert location.startswith(endpoint) and 50 < expires_in(location) <= 61


def test_a_presigned_url_reads_the_file_and_carries_the_expiry_asked_for(store):
    # moto does not enforce the expiry itself; S3 and MinIO refuse the URL after X-Amz-Expires seconds.
    file = entry(store)
    url = store.presigned_url(file.sha256, 120)
    assert 110 < expires_in(url) <= 121
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == DATA


def test_without_presigning_the_controller_streams_the_file_from_s3(store, tmp_path):
    file = entry(store)
    with FileServer(store) as server:
        assert fetch(file_url(server.url, file.sha256), file, tmp_path / "m.onnx") == len(DATA)
        assert server.bytes_served == len(DATA)
    assert ComponentStore.from_url(tmp_path / "local").presigned_url(file.sha256, 60) is None


def expires_in(url: str) -> float:
    """Seconds a presigned URL stays valid, from its query (signature version 2 or 4)."""
    query = parse_qs(urlsplit(url).query)
    assert query.get("Signature") or query.get("X-Amz-Signature"), "not a signed URL"
    if "X-Amz-Expires" in query:
        return float(query["X-Amz-Expires"][0])
    return float(query["Expires"][0]) - time.time()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
