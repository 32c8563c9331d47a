"""The fleet's results store on this machine: sustained intake through the broker, loss, and the console's queries.

1. Intake: ``--devices`` simulated devices (one paho client each, QoS 1, in a separate
   process, each enrolled with its own Ed25519 key) publish ``--messages`` messages (a
   status report every 20th, results otherwise), encoded and signed as a device does,
   through an MQTT broker on loopback (a private Mosquitto with ``max_queued_messages 0``, or
   ``--broker``) into
   the real collector (``Collector.connect``, checking every signature): journal in
   ``fleet.db``, batches into the day-partitioned Delta tables. Measured: the
   sustained rate from the first publish until every message is stored, and loss
   (published − distinct rows in the tables after the collector stops; must be 0).
2. Queries: the results table is filled to ``--fill`` rows (1,000 devices over two days,
   written in time order in batches of 100,000 as the collector would write them, then
   compacted), the status table with a report per device every 5 minutes, and the queries
   the console's Results and Fleet pages make are timed (median of 3, after one warm-up).

Run: ``python benchmarks/bench_results_store.py [--devices 50 --messages 400 --fill 1000000]``.
Results also go to ``benchmarks/out/``. Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=140)
DAY0 = datetime(2026, 1, 5, tzinfo=timezone.utc)


class Mosquitto:
    """A private Mosquitto on a free loopback port, configured as a fleet's broker must be.

    ``max_queued_messages 0``: Mosquitto's default queue for a persistent subscriber
    is 1,000 messages, and it drops (silently, after acknowledging them to the
    devices) what arrives while a collector that fell behind has that many waiting.
    """

    def __init__(self, folder: Path) -> None:
        import getpass
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\nmax_queued_messages 0\nuser {getpass.getuser()}\n"
        )
        self.proc = None

    def start(self) -> str:
        import socket
        import subprocess

        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(self.config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return f"mqtt://127.0.0.1:{self.port}"
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the private mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def publish(url: str, ns: str, keys: list[bytes], messages: int, ready, started) -> None:
    """The simulated devices (a separate process): each publishes its signed messages at QoS 1, waits for the acks.

    Messages are encoded and signed before the clock starts, as each device would have
    done on its own CPU; what is timed is the broker and the collector.
    """
    import paho.mqtt.client as mqtt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from qiloop.edge.inference.outbox import encode_payload
    from qiloop.protocol.messages import DetectedBox, DeviceStatus, InferenceResult
    from qiloop.protocol.signed import MessageSigner

    host, port = url.removeprefix("mqtt://").split(":")
    box = DetectedBox(class_id=0, class_name="scratch", score=0.62, left=10, top=20, width=30, height=4)
    clients, queued = [], []
    for d, raw in enumerate(keys):
        signer = MessageSigner(Ed25519PrivateKey.from_private_bytes(raw))
        device = f"dev-{d:04d}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{ns}-{device}")
        client.max_inflight_messages_set(50)
        client.connect(host, int(port))
        client.loop_start()
        clients.append(client)
        for i in range(1, messages + 1):
            if i % 20 == 0:
                body = DeviceStatus(device_id=device, images_processed=i, outbox_depth=i % 7).body()
                topic = f"{ns}/devices/{device}/status"
            else:
                fail = i % 9 == 0
                body = InferenceResult(device_id=device, image_name=f"img-{i}.png", model_name="scratch-detector",
                                       model_version="3", detections=[box] if fail else [],
                                       verdict="fail" if fail else "pass", latency_ms=35.0 + i % 11).body()  # fmt: skip
                topic = f"{ns}/results"
            queued.append((i, d, topic, signer.sign_payload(encode_payload(body, device, i))))
    queued.sort(key=lambda item: item[:2])  # the devices take turns, as they would publish at once
    ready.set()
    started.wait()
    pending = [clients[d].publish(topic, payload, qos=1) for _, d, topic, payload in queued]
    for info in pending:
        info.wait_for_publish(300)
    for client in clients:
        client.disconnect()
        client.loop_stop()


def intake(url: str, devices: int, messages: int, home: Path) -> dict:
    import polars as pl
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from qiloop.fleet.collector import Collector
    from qiloop.fleet.registry_db import FleetDB
    from qiloop.protocol.keys import encode_public_key, raw_public_key
    from qiloop.settings import Settings

    ns = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(home=home)
    keys = [Ed25519PrivateKey.generate() for _ in range(devices)]
    registry = FleetDB.from_settings(settings)  # every device enrolled: the collector checks each signature
    for d, key in enumerate(keys):
        registry.add_device_key(f"dev-{d:04d}", encode_public_key(raw_public_key(key)))
    registry.close()
    collector = Collector.connect(url, settings, client_id=f"{ns}-collector", results_topic=f"{ns}/results",
                                  device_root=f"{ns}/devices")  # fmt: skip
    total = devices * messages
    context = multiprocessing.get_context("spawn")
    ready, started = context.Event(), context.Event()
    raw = [k.private_bytes_raw() for k in keys]
    sender = context.Process(target=publish, args=(url, ns, raw, messages, ready, started))
    with collector:
        sender.start()
        ready.wait(300)
        t0 = time.perf_counter()
        started.set()
        deadline, shown = time.monotonic() + 300, time.monotonic()
        while collector.stats().total("received") < total and time.monotonic() < deadline:
            time.sleep(0.05)
            if time.monotonic() - shown > 10:
                shown = time.monotonic()
                counts = collector.stats()
                console.print(
                    f"  {counts.total('received')} received, {counts.total('stored')} stored,"
                    f" {counts.total('rejected')} rejected, publisher running: {sender.is_alive()}"
                )
        seconds = time.perf_counter() - t0
        sender.join(120)
        collector.wait_idle(timeout=30, quiet=1.0)
        stats = collector.stats()
    stop_s = time.perf_counter() - t0 - seconds
    results = pl.read_delta(str(home / "fleet-results" / "results"))
    status = pl.read_delta(str(home / "fleet-results" / "status"))
    distinct = (
        results.select("device_id", "sequence").unique().height + status.select("device_id", "sequence").unique().height
    )
    from deltalake import DeltaTable

    commits = sum(1 for e in DeltaTable(str(home / "fleet-results" / "results")).history() if e["operation"] == "WRITE")
    return {
        "devices": devices, "messages": total, "seconds": round(seconds, 2), "per_second": round(total / seconds),
        "received": stats.total("received"), "stored": stats.total("stored"), "duplicate": stats.total("duplicate"),
        "failed": stats.total("failed"), "invalid": stats.total("invalid"), "rows_in_tables": distinct,
        "loss": total - distinct, "result_commits": commits, "stop_and_flush_s": round(stop_s, 2),
    }  # fmt: skip


def fill(home: Path, rows: int, devices: int = 1000) -> dict:
    """``rows`` results over two days and a status report per device every 5 minutes, in the collector's batches."""
    import numpy as np
    import pyarrow as pa

    from qiloop.fleet.results_schema import RESULT_SCHEMA, STATUS_SCHEMA
    from qiloop.fleet.results_store import ResultsStore

    store = ResultsStore.from_url(str(home / "fleet-results"))
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    span_s = 2 * 86_400
    batch = 100_000
    upto = 0
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        # As the collector writes them: each batch holds the results of its stretch of time.
        low, high = span_s * start / rows, span_s * (start + n) / rows
        offsets = np.sort(rng.uniform(low, high, n))
        times = [DAY0 + timedelta(seconds=float(s)) for s in offsets]
        device = rng.integers(0, devices, n)
        fail = rng.random(n) < 0.08
        latency = rng.gamma(9, 4.5, n)
        score = np.where(fail, rng.uniform(0.3, 0.95, n), np.nan)
        sequence = np.arange(start, start + n)
        names = [f"dev-{d:04d}" for d in device]
        payloads = [
            json.dumps({"kind": "result", "time": t.isoformat(), "device_id": dn, "sequence": int(q),
                        "image_name": f"img-{q}.png", "image_sha256": "", "model_name": "scratch-detector",
                        "model_version": "3" if q > rows // 2 else "2", "verdict": "fail" if f else "pass",
                        "latency_ms": float(lat),
                        "detections": [{"class_id": 0, "class_name": "scratch", "score": float(s), "left": 10.0,
                                        "top": 20.0, "width": 30.0, "height": 4.0}] if f else []})
            for t, dn, q, f, lat, s in zip(times, names, sequence, fail, latency, score, strict=True)
        ]  # fmt: skip
        table = pa.Table.from_pydict({
            "day": [t.date().isoformat() for t in times], "time": times, "received_at": times, "device_id": names,
            "sequence": sequence, "image_name": [f"img-{q}.png" for q in sequence], "image_sha256": [""] * n,
            "model_name": ["scratch-detector"] * n, "model_version": np.where(sequence > rows // 2, "3", "2"),
            "verdict": np.where(fail, "fail", "pass"), "n_detections": fail.astype("int32"),
            "max_score": pa.array(score, pa.float32(), from_pandas=True), "latency_ms": latency, "payload": payloads,
        }, schema=RESULT_SCHEMA)  # fmt: skip
        upto += n
        store.append("results", table, journal="bench", upto=upto)
    reports = []
    for step in range(0, span_s, 300):
        at = DAY0 + timedelta(seconds=step)
        for d in range(devices):
            reports.append((at, d, step))
    status = pa.Table.from_pydict({
        "day": [a.date().isoformat() for a, _, _ in reports], "time": [a for a, _, _ in reports],
        "received_at": [a for a, _, _ in reports], "device_id": [f"dev-{d:04d}" for _, d, _ in reports],
        "sequence": [s for _, _, s in reports], "state": ["running"] * len(reports),
        "model_name": ["scratch-detector"] * len(reports), "model_version": ["3"] * len(reports),
        "images_processed": [s // 10 for _, _, s in reports], "defects": [s // 120 for _, _, s in reports],
        "defect_rate": [0.08] * len(reports), "latency_p50_ms": [38.0] * len(reports),
        "latency_p95_ms": [61.0] * len(reports), "outbox_depth": [(s // 300 + d) % 13 for _, d, s in reports],
        "outbox_dropped": [s // 3600 for _, _, s in reports], "payload": ["{}"] * len(reports),
    }, schema=STATUS_SCHEMA)  # fmt: skip
    store.append("status", status, journal="bench", upto=1)
    fill_s = time.perf_counter() - t0
    files_before = store.file_count("results")
    t1 = time.perf_counter()
    days = [(DAY0 + timedelta(days=i)).date().isoformat() for i in range(3)]
    store.compact("results", days)
    store.compact("status", days)
    return {"rows": rows, "status_rows": len(reports), "devices": devices, "fill_s": round(fill_s, 1),
            "files_before_compaction": files_before, "files_after": store.file_count("results"),
            "compact_s": round(time.perf_counter() - t1, 1)}  # fmt: skip


def timed(fn) -> tuple[float, object]:
    fn()  # warm-up (file listing, OS cache)
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        value = fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), value


def queries(home: Path) -> list[tuple[str, str, float, str]]:
    from qiloop.fleet.results_db import ResultsDB
    from qiloop.fleet.results_query import Page, ResultFilter, device_summaries

    db = ResultsDB(home / "fleet.db")
    end = DAY0 + timedelta(days=2)
    first = db.page(ResultFilter(), 50)
    line = [f"dev-{d:04d}" for d in range(50)]
    asked = [
        ("Results", "newest 50, no filter", lambda: db.page(ResultFilter(), 50)),
        ("Results", "next page (cursor)", lambda: db.page(ResultFilter(), 50, first.next)),
        ("Results", "newest 50 of one device", lambda: db.page(ResultFilter(devices=("dev-0042",)), 50)),
        ("Results", "newest 50 failed", lambda: db.page(ResultFilter(verdict="fail"), 50)),
        ("Results", "newest 50 of model version 2", lambda: db.page(ResultFilter(model_version="2"), 50)),
        ("Results", "failed of one device, last 6 h",
         lambda: db.page(ResultFilter(devices=("dev-0042",), verdict="fail", since=end - timedelta(hours=6)), 50)),
        ("Fleet", "per-device summary, last hour",
         lambda: device_summaries(db.frame("results"), end - timedelta(hours=1), end)),
        ("Fleet", "one device, 24 h in 5-min buckets",
         lambda: db.series(["dev-0042"], end - timedelta(hours=24), end, timedelta(minutes=5))),
        ("Fleet", "a line of 50 devices, 24 h in 5-min buckets",
         lambda: db.series(line, end - timedelta(hours=24), end, timedelta(minutes=5))),
    ]  # fmt: skip
    out = []
    for page, what, fn in asked:
        seconds, value = timed(fn)
        answer = f"{value.rows.height} rows" if isinstance(value, Page) else f"{len(value)} points/devices"
        out.append((page, what, seconds, answer))
    db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--broker", help="An MQTT broker URL (default: a private Mosquitto configured as below).")
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--messages", type=int, default=400, help="Messages per device.")
    parser.add_argument("--fill", type=int, default=1_000_000, help="Results in the table for the query timings.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-results-") as tmp:
        root = Path(tmp)
        broker = None if args.broker else Mosquitto(root / "broker")
        url = args.broker or broker.start()
        console.print(f"intake: {args.devices} devices × {args.messages} messages through {url}")
        try:
            taken = intake(url, args.devices, args.messages, root / "intake")
        finally:
            if broker is not None:
                broker.stop()
        table = Table("figure", "value", title=f"intake through the broker, {os.cpu_count()} CPUs")
        for key, value in taken.items():
            table.add_row(key, str(value))
        console.print(table)
        console.print(f"filling the results table with {args.fill:,} rows")
        filled = fill(root / "query", args.fill)
        console.print(filled)
        timings = queries(root / "query")
    table = Table("page", "query", "seconds", "answer", title=f"console queries over {args.fill:,} results")
    for page, what, seconds, size in timings:
        table.add_row(page, what, f"{seconds:.3f}", size)
    console.print(table)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_results_store-{datetime.now():%Y%m%d-%H%M%S}.json"
    timed_queries = [{"page": p, "query": q, "seconds": round(s, 4), "answer": a} for p, q, s, a in timings]
    path.write_text(json.dumps({"intake": taken, "fill": filled, "queries": timed_queries}, indent=2))
    console.print(f"written to {path}")
    sys.exit(0 if taken["loss"] == 0 else 1)


if __name__ == "__main__":
    main()
