"""What one request may cost the endpoint: the pixel limit read from the header (413 before
admission or decoding), large images admitted a few at a time (503 with Retry-After, and a
normal image still served), and memory given back so odd shapes do not pile up.

Real parts: the endpoint on a free port (uvicorn), the served test package, HTTP clients.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import httpx
import pytest

from serving_helpers import png


def _server(package, **options):
    from qiloop.serving import ModelHolder, PackageSource, ServeOptions
    from qiloop.serving.app import create_app
    from qiloop.serving.server import BackgroundServer

    opts = ServeOptions(poll_s=0, **options)
    holder = ModelHolder.for_options(PackageSource(package), opts)
    holder.refresh()
    app = create_app(holder, opts)
    return BackgroundServer(app).start(), app.state.service


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` and holds almost no pixel data (decoding it fails)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def upload(name: str, data: bytes) -> dict:
    return {"file": (name, data, "image/png")}


def test_the_pixel_limit_is_read_from_the_header_before_admission(serve_package):
    server, service = _server(serve_package, worker_threads=1, max_image_pixels=1_000_000, max_pending=1)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            bomb = c.post("/v1/detect", files=upload("bomb.png", png_header_only(4000, 3000)))
            assert bomb.status_code == 413, bomb.text  # decoding it would have said 422 (truncated)
            body = bomb.json()
            assert "4000x3000 is 12000000 pixels, more than this endpoint's limit of 1000000" in body["message"]
            assert "--max-image-mpx" in body["hint"]
            huge = c.post("/v1/detect", files=upload("huge.png", png_header_only(20_000, 20_000)))
            assert huge.status_code == 413 and "more pixels than this endpoint's limit" in huge.json()["message"]
            service.admit(1)  # the server is full...
            assert c.post("/v1/detect", files=upload("bomb.png", png_header_only(2000, 2000))).status_code == 413
            assert c.post("/v1/detect", files=upload("ok.png", png(96, 64))).status_code == 503  # ...for real work
            service._release(False)
            files = [("files", ("bomb.png", png_header_only(2000, 2000), "image/png")),
                     ("files", ("ok.png", png(96, 64), "image/png"))]  # fmt: skip
            batch = c.post("/v1/detect/batch", files=files).json()
            assert [item["status"] for item in batch["items"]] == [413, 200]
            assert service._pending == 0 and service._large == 0
    finally:
        server.stop()


def test_large_images_are_admitted_a_few_at_a_time_and_normal_ones_still_run(serve_package):
    server, service = _server(serve_package, worker_threads=2, large_image_pixels=100_000, max_large_images=1)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            service.admit(1, large=1)  # one large image in progress: the limit
            refused = c.post("/v1/detect", files=upload("large.png", png(500, 400)))
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            assert "busy with large images (1 in progress, at most 1 at once)" in refused.json()["message"]
            assert c.post("/v1/detect", files=upload("normal.png", png(96, 64))).status_code == 200
            files = [("files", (f"large-{i}.png", png(500, 400), "image/png")) for i in range(2)]
            too_many = c.post("/v1/detect/batch", files=files)  # never admissible, so not a 503
            assert too_many.status_code == 413 and "2 images of more than 100000 pixels" in too_many.json()["message"]
            assert c.post("/v1/detect/batch", files=files[:1]).status_code == 503
            service._release(True)
            assert c.post("/v1/detect", files=upload("large.png", png(500, 400))).status_code == 200
            assert service._pending == 0 and service._large == 0
    finally:
        server.stop()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads RSS from /proc (Linux)")
def test_memory_does_not_pile_up_across_many_distinct_shapes(serve_package):
    from PIL import Image

    def zero_png(width: int, height: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height)).save(buffer, "PNG")
        return buffer.getvalue()

    server, _ = _server(serve_package, worker_threads=1, large_image_pixels=1_000_000)
    shapes = [(1600 - 8 * i, 1250 + 8 * i) for i in range(8)]  # 2 Mpx each, every one a new shape
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            w, h = shapes[0]  # warm up: allocator, decoder, worker
            assert c.post("/v1/detect", files=upload("warm.png", zero_png(w, h))).status_code == 200
            before = _rss_mb()
            for w, h in shapes[1:]:
                assert c.post("/v1/detect", files=upload(f"{w}x{h}.png", zero_png(w, h))).status_code == 200
            grown = _rss_mb() - before
    finally:
        server.stop()
    # each shape's resize buffers alone are ~24 MB: kept, these seven would be ~170 MB
    assert grown < 60, f"RSS grew by {grown:.0f} MB over {len(shapes) - 1} distinct shapes"
