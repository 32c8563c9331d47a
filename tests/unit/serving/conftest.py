"""The tiny detector package (``tests/tiny_models.py``) served over HTTP on a free port."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def serve_package(tiny_package):
    """A package at 64x96 (height x width), one class, FP32 and INT8 models (shared: copy it to change it)."""
    return tiny_package


@pytest.fixture(scope="module")
def server(serve_package):
    """The endpoint on ``serve_package``: 2 workers, 1 MB per image, 4 Mpx, 4 files per batch."""
    from serving_helpers import serve_package as start

    srv = start(serve_package, worker_threads=2, max_image_bytes=1 << 20, max_image_pixels=4_000_000, max_batch_files=4)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    import httpx

    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c
