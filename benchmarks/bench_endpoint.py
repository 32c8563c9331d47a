"""Throughput and latency of the HTTP endpoint against the raw edge runtime on the same cores.

Three measurements on one model package (default: an untrained YOLOv8n exported at
448x320 by ``tests/onnx_models.build_package``, which times like a trained one;
``--package DIR`` for a trained package), over the real metal-tag photos when they
are present, else synthetic tags from ``qiloop.synth``:

1. raw, one session using every core, images one after another;
2. raw, one single-thread session per core, one thread each;
3. the endpoint (``qiloop serve`` in its own process, default settings) under
   ``--clients`` concurrent HTTP clients posting JPEGs to ``/v1/detect``.

Raw and endpoint do the same work per image (decode the JPEG, letterbox, forward,
decode the boxes); the endpoint's figure is compared with the better raw one. The
setups run interleaved for ``--rounds`` rounds (medians reported), and each also
reports its CPU time per image (for the endpoint: server plus clients), a cost
that other work sharing the cores does not distort.
The clients are plain ``http.client`` connections with a pre-built multipart body,
so the load generator takes as little of the shared cores as it can.

Run: ``python benchmarks/bench_endpoint.py [--seconds 10] [--rounds 3] [--clients 8] [--package DIR] [--int8]``.
Benchmarks print numbers; they are not tests. Results also go to ``benchmarks/out/``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "endpoint"
sys.path.insert(0, str(ROOT / "tests"))

from qiloop.edge.runtime import OnnxDetector  # noqa: E402
from qiloop.serving.options import available_cores  # noqa: E402
from serving_helpers import sample_jpegs  # noqa: E402

console = Console(width=110)


def package_for(args) -> Path:
    if args.package:
        return args.package
    folder = OUT / "yolov8n-448x320"
    if not (folder / "manifest.json").is_file():
        from onnx_models import build_package

        console.print("exporting an untrained yolov8n at 448x320 (once)...")
        build_package(folder, (320, 448), int8=args.int8)
    return folder


def images_for(count: int) -> list[tuple[str, bytes]]:
    real = sorted((ROOT.parent / "shared" / "data" / "metal-tags" / "images").rglob("*.jpg"))
    if real:
        return [(p.name, p.read_bytes()) for p in real[:count]]
    return sample_jpegs(min(count, 32))


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of process ``pid``, so far."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_threads(workers: list, seconds: float, server: int | None = None) -> tuple[float, list[float], float]:
    """Run ``work(stop) -> latencies`` callables on threads for ``seconds``.

    Returns images/s, every latency, and the CPU seconds spent per image by this
    process plus the ``server`` process: unlike wall time, that cost does not
    change when other work shares the cores.
    """
    cpu0 = cpu_seconds() + (cpu_seconds(server) if server else 0.0)
    stop = threading.Event()
    results: list[list[float]] = [[] for _ in workers]

    def loop(i: int) -> None:
        results[i] = workers[i](stop)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(workers))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() + (cpu_seconds(server) if server else 0.0) - cpu0
    latencies = [x for r in results for x in r]
    return len(latencies) / elapsed, latencies, cpu / max(len(latencies), 1)


def raw_worker(detector: OnnxDetector, images: list[tuple[str, bytes]], offset: int):
    def work(stop: threading.Event) -> list[float]:
        out, i = [], offset
        while not stop.is_set():
            t0 = time.perf_counter()
            detector.detect(images[i % len(images)][1])
            out.append(time.perf_counter() - t0)
            i += 1
        return out

    return work


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def http_worker(port: int, bodies: list[tuple[bytes, str]], offset: int, errors: list):
    def work(stop: threading.Event) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        out, i = [], offset
        while not stop.is_set():
            body, ctype = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            conn.request("POST", "/v1/detect", body=body, headers={"Content-Type": ctype})
            response = conn.getresponse()
            payload = response.read()
            if response.status == 200:
                out.append(time.perf_counter() - t0)
            else:
                errors.append(payload[:200])
            i += 1
        conn.close()
        return out

    return work


def start_server(package: Path, port: int, int8: bool) -> subprocess.Popen:
    command = [sys.executable, "-m", "qiloop.cli.main", "serve", "--model", str(package), "--port", str(port)]
    command += ["--poll-s", "0", "--home", str(OUT / "home")] + (["--int8"] if int8 else [])
    log = (OUT / "server.log").open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited; see {OUT / 'server.log'}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not come up within 120 s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(runs: list[tuple[float, list[float], float]]) -> dict:
    """Median throughput and CPU cost over the rounds; latency percentiles over every request."""
    ms = np.array([x for _, lat, _ in runs for x in lat]) * 1000
    return {
        "images_per_s": float(np.median([ips for ips, _, _ in runs])),
        "rounds_images_per_s": [round(ips, 2) for ips, _, _ in runs],
        "cpu_ms_per_image": float(np.median([cpu for _, _, cpu in runs]) * 1000),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "n": len(ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", type=Path, help="a model package folder (default: untrained yolov8n 448x320)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (raw, raw, endpoint), interleaved")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--images", type=int, default=209, help="how many distinct images to cycle through")
    parser.add_argument("--int8", action="store_true", help="run model.int8.onnx")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    package, images, cores = package_for(args), images_for(args.images), available_cores()
    console.print(f"{len(images)} images, {cores} cores, load average {os.getloadavg()[0]:.2f}, package {package}")

    one = OnnxDetector.from_package(package, threads=cores, int8=args.int8)
    per_core = [OnnxDetector.from_package(package, threads=1, int8=args.int8) for _ in range(cores)]
    setups = {
        f"raw: 1 session x {cores} threads": [raw_worker(one, images, 0)],
        f"raw: {cores} sessions x 1 thread": [raw_worker(d, images, i * 7) for i, d in enumerate(per_core)],
    }
    endpoint = f"endpoint: {args.clients} clients"
    port = free_port()
    server = start_server(package, port, args.int8)
    errors: list = []
    try:
        bodies = [multipart(name, data) for name, data in images]
        setups[endpoint] = [http_worker(port, bodies, i * 13, errors) for i in range(args.clients)]
        runs: dict[str, list] = {label: [] for label in setups}
        for workers in setups.values():  # warm-up: plans, page faults, connections
            run_threads(workers, 2)
        for round_ in range(args.rounds):  # interleaved, so drifting load from others hits every setup alike
            for label, workers in setups.items():
                runs[label].append(run_threads(workers, args.seconds, server.pid if label == endpoint else None))
            console.print(f"round {round_ + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}")
    finally:
        server.terminate()
        server.wait(30)
    results = {label: summary(r) for label, r in runs.items()}
    best = max((label for label in results if label != endpoint), key=lambda k: results[k]["images_per_s"])
    share = results[endpoint]["images_per_s"] / results[best]["images_per_s"]
    cpu_share = results[best]["cpu_ms_per_image"] / results[endpoint]["cpu_ms_per_image"]

    table = Table(title=f"endpoint vs raw runtime: median of {args.rounds} x {args.seconds:g} s, {cores} cores")
    for column in ("setup", "images/s", "p50 ms", "p99 ms", "CPU ms/image", "requests"):
        table.add_column(column, justify="left" if column == "setup" else "right")
    for label, r in results.items():
        table.add_row(
            label, f"{r['images_per_s']:.1f}", f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}",
            f"{r['cpu_ms_per_image']:.1f}", str(r["n"]),
        )  # fmt: skip
    console.print(table)
    goal = "meets" if share >= 0.85 else "misses"
    console.print(
        f"endpoint throughput = {100 * share:.0f} % of the best raw setup ({best}; {goal} the 85 % goal); "
        f"CPU per image: raw / endpoint = {100 * cpu_share:.0f} %; {len(errors)} failed requests; "
        f"load average now {os.getloadavg()[0]:.2f} (other work on these cores makes wall-time figures pessimistic)",
        highlight=False,
    )
    report = {"cores": cores, "images": len(images), "package": str(package), "clients": args.clients}
    report |= {"setups": results, "best_raw": best, "throughput_share": share, "cpu_share": cpu_share}
    (OUT / "results.json").write_text(json.dumps(report | {"errors": len(errors)}, indent=2))


if __name__ == "__main__":
    main()
