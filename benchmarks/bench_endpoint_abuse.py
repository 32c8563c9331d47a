"""What abusive uploads cost the HTTP endpoint: memory that stays, and a normal client's wait.

``qiloop serve`` runs in its own process with its default limits (``--workers-threads``
as given) on a tiny detector at 640x640 (``tests/tiny_models.py``; the cost measured here
is decoding and resizing the upload, which does not depend on the model). Then:

1. ``--shapes`` all-zero PNGs (a few tens of KB each) of distinct shapes, each with
   ``--mpx`` megapixels, one after another: the server's resident memory (RSS) before,
   after each, and a few seconds after the last;
2. ``--flood`` such uploads at once, and while they are in flight a normal photo
   (a 640x480 JPEG) every 0.2 s: the normal requests' latency, and the statuses the
   large ones got (200, 413, 503).

Run: ``python benchmarks/bench_endpoint_abuse.py [--mpx 16] [--shapes 6] [--flood 16] [--workers 2]``.
Benchmarks print numbers; they are not tests. Results also go to ``benchmarks/out/``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "endpoint-abuse"
sys.path.insert(0, str(ROOT / "tests"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def zero_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def photo_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (480, 640, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def shapes(mpx: float, count: int) -> list[tuple[int, int]]:
    """``count`` distinct (width, height) of about ``mpx`` megapixels each."""
    side = int((mpx * 1e6) ** 0.5)
    return [(side - 16 * i, int(mpx * 1e6) // (side - 16 * i)) for i in range(count)]


def start(package: Path, port: int, workers: int) -> subprocess.Popen:
    OUT.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "qiloop.cli.main", "serve", "--model", str(package), "--port", str(port),
               "--workers-threads", str(workers), "--home", str(OUT / "home")]  # fmt: skip
    proc = subprocess.Popen(command, stdout=(OUT / "server.log").open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited; see {OUT / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up within 120 s")


def post(url: str, name: str, data: bytes, kind: str) -> tuple[int, float]:
    started = time.perf_counter()
    r = httpx.post(f"{url}/v1/detect", files={"file": (name, data, kind)}, timeout=300)
    return r.status_code, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpx", type=float, default=16.0, help="megapixels of each large upload")
    parser.add_argument("--shapes", type=int, default=6, help="distinct large shapes posted one after another")
    parser.add_argument("--flood", type=int, default=16, help="large uploads in flight at once")
    parser.add_argument("--workers", type=int, default=2, help="--workers-threads of the server")
    parser.add_argument("--label", default="run", help="name of the result file")
    args = parser.parse_args()

    from tiny_models import tiny_package

    package = OUT / "tiny-640"
    if not (package / "manifest.json").is_file():
        tiny_package(package, (640, 640))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start(package, port, args.workers)
    url, normal = f"http://127.0.0.1:{port}", photo_jpeg()
    result: dict = {"mpx": args.mpx, "workers": args.workers}
    try:
        post(url, "normal.jpg", normal, "image/jpeg")
        result["rss_start_mb"] = rss_mb(proc.pid)
        rss, seconds, statuses = [], [], []
        for w, h in shapes(args.mpx, args.shapes):
            status, took = post(url, f"zero-{w}x{h}.png", zero_png(w, h), "image/png")
            statuses.append(status)
            seconds.append(round(took, 2))
            rss.append(round(rss_mb(proc.pid)))
            print(f"  {w}x{h}: {status} in {took:.2f} s, RSS {rss[-1]} MB", flush=True)
        time.sleep(3)
        result.update(shape_statuses=statuses, shape_seconds=seconds, rss_after_each_mb=rss,
                      rss_3s_later_mb=round(rss_mb(proc.pid)))  # fmt: skip

        big = zero_png(*shapes(args.mpx, 1)[0])
        outcomes: list[int] = []
        threads = [threading.Thread(target=lambda: outcomes.append(post(url, "big.png", big, "image/png")[0]))
                   for _ in range(args.flood)]  # fmt: skip
        for t in threads:
            t.start()
        latencies = []
        while any(t.is_alive() for t in threads) or not latencies:
            status, took = post(url, "normal.jpg", normal, "image/jpeg")
            latencies.append(round(took, 3))
            time.sleep(0.2)
        for t in threads:
            t.join()
        result.update(flood_statuses=dict(Counter(outcomes)), normal_latency_s=latencies,
                      normal_latency_max_s=max(latencies), rss_after_flood_mb=round(rss_mb(proc.pid)))  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(60)
    print(json.dumps(result, indent=1))
    (OUT / f"{args.label}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
