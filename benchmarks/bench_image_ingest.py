"""How fast images go into the image store, and how its index behaves at 10^6 images.

Three measurements, each on a fresh store in a temporary folder:

1. the real metal-tag photos (skipped with a message when the data is absent):
   first ingest, then a re-ingest where every file is a duplicate;
2. generated 450x300 JPEGs at growing counts, to show how the cost grows;
3. the metadata index alone at ``--index-rows`` rows (default 10^6, no image bytes):
   write time, time to open the store, lookups, ``unlabeled`` against half the
   rows, an incremental refresh after another writer's commit, and memory.

Run: ``python benchmarks/bench_image_ingest.py [--counts 500,1000,2000] [--index-rows 1000000]``.
Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake
from PIL import Image

from qiloop.storage.image_store import INDEX_FOLDER, ImageStore
from qiloop.storage.index import SCHEMA, ImageIndex

REAL_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "metal-tags" / "images"


def rss_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def timed_ingest(label: str, source: Path, store_dir: Path) -> None:
    store = ImageStore.from_url(str(store_dir))
    megabytes = folder_bytes(source) / 1e6
    for run in ("first", "again"):
        started = time.perf_counter()
        report = store.ingest([source])
        seconds = time.perf_counter() - started
        n = len(report.added) + len(report.duplicates) + len(report.rejected)
        print(
            f"  {label:<22} {run:<6} {n:>6} files  {seconds:7.2f} s  {n / seconds:8.0f} images/s  "
            f"{megabytes / seconds:7.1f} MB/s  ({report.summary()})"
        )


def real_data(work: Path) -> None:
    print("real metal-tag photos")
    if not REAL_DATA.is_dir():
        print(f"  skipped: {REAL_DATA.resolve()} not found")
        return
    timed_ingest("209 real 450x300 JPEG", REAL_DATA, work / "real-store")


def synthetic(work: Path, counts: list[int]) -> None:
    print("generated 450x300 JPEGs (noise + gradient, ~q75)")
    rng = np.random.default_rng(0)
    base = np.linspace(0, 200, 450, dtype=np.float32)[None, :, None].repeat(300, 0).repeat(3, 2)
    for count in counts:
        folder = work / f"gen-{count}"
        folder.mkdir()
        for i in range(count):
            pixels = (base + rng.normal(0, 12, base.shape)).clip(0, 255).astype(np.uint8)
            out = io.BytesIO()
            Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=75)
            (folder / f"img-{i:06d}-cropped-left-top.jpg").write_bytes(out.getvalue())
        timed_ingest(f"{count} generated", folder, work / f"gen-store-{count}")


def fake_rows(n: int, start: int, now: datetime) -> pa.Table:
    shas = [os.urandom(32).hex() for _ in range(n)]
    return pa.table(
        {
            "sha256": shas,
            "key": [f"blobs/{s[:2]}/{s}.jpg" for s in shas],
            "width": pa.array([450] * n, pa.int32()),
            "height": pa.array([300] * n, pa.int32()),
            "depth": pa.array([3] * n, pa.int8()),
            "format": ["jpeg"] * n,
            "size_bytes": pa.array(np.full(n, 28_000), pa.int64()),
            "source": ["import"] * n,
            "captured_at": pa.nulls(n, pa.timestamp("us", tz="UTC")),
            "ingested_at": pa.array([now + timedelta(microseconds=start + i) for i in range(n)], SCHEMA.field(9).type),
            "group": [f"image-{(start + i) // 4:07d}" for i in range(n)],
            "original_name": [f"image-{(start + i) // 4:07d}-cropped-{i % 4}.jpg" for i in range(n)],
        },
        schema=SCHEMA,
    )


def index_at_scale(work: Path, rows: int, commits: int = 100) -> None:
    print(f"metadata index with {rows:,} rows ({commits} commits; no image bytes)")
    root = work / "big-store"
    ImageIndex.open(str(root / INDEX_FOLDER), {})  # creates the table
    now = datetime.now(timezone.utc)
    per_commit = max(1, rows // commits)
    started = time.perf_counter()
    for c in range(commits):
        write_deltalake(str(root / INDEX_FOLDER), fake_rows(per_commit, c * per_commit, now), mode="append")
    print(f"  write {per_commit * commits:,} rows          {time.perf_counter() - started:7.2f} s")

    before = rss_mb()
    started = time.perf_counter()
    store = ImageStore.from_url(str(root))
    print(f"  open store (read index)   {time.perf_counter() - started:7.2f} s   {len(store):,} images")
    held = store._index.frame.estimated_size() / 1e6
    print(f"  memory                    {rss_mb():7.0f} MB peak RSS, {current_rss_mb():.0f} MB now")
    print(f"                                      (before opening {before:.0f} MB; the rows hold {held:.0f} MB)")

    shas = store._index.frame["sha256"].to_list()
    probes = random.Random(1).sample(shas, 10_000)
    started = time.perf_counter()
    found = sum(store.find(s) is not None for s in probes)
    seconds = time.perf_counter() - started
    print(f"  find x10,000              {seconds:7.2f} s   {seconds / 1e4 * 1e6:.0f} us each ({found} found)")
    started = time.perf_counter()
    hits = sum(s in store for s in probes)
    seconds = time.perf_counter() - started
    print(f"  `in` x10,000              {seconds:7.2f} s   {seconds / 1e4 * 1e6:.0f} us each ({hits} hits)")

    labeled = set(shas[::2])
    started = time.perf_counter()
    todo = store.unlabeled(labeled)
    print(f"  unlabeled(|set|={len(labeled):,})  {time.perf_counter() - started:7.2f} s   {len(todo):,} records")

    other = ImageIndex.open(str(root / INDEX_FOLDER), {})
    other.append(fake_rows(500, rows + 1, now).to_pylist())
    started = time.perf_counter()
    store.refresh()
    print(f"  refresh after +500 rows   {time.perf_counter() - started:7.2f} s   {len(store):,} images")

    generated = sorted(work.glob("gen-*"))
    if generated:
        started = time.perf_counter()
        report = store.ingest([generated[0]])
        seconds = time.perf_counter() - started
        n = len(report.added)
        print(f"  ingest {n} new images      {seconds:7.2f} s   {n / seconds:.0f} images/s into the big store")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="500,1000,2000", help="generated image counts, comma-separated")
    parser.add_argument("--index-rows", type=int, default=1_000_000, help="rows for the index-at-scale run (0: skip)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="qiloop-bench-") as tmp:
        work = Path(tmp)
        real_data(work)
        synthetic(work, [int(c) for c in args.counts.split(",") if c])
        if args.index_rows:
            index_at_scale(work, args.index_rows)


if __name__ == "__main__":
    main(sys.argv[1:])
