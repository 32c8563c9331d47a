"""Label store throughput and point-in-time query latency as the store grows.

For each size N it builds N realistic label records (about 3 records per image,
the later ones correcting the earlier; 0-4 boxes, 2 on average), appends them
through the columnar path in batches, then times the latest-per-image query as
of a datetime, as of a table version and now, plus the conversion of the result
to records. Separately it times the record path: building pydantic records and
appending them.

Usage:
    python benchmarks/bench_label_store.py                      # 10^4, 10^5, 10^6
    python benchmarks/bench_label_store.py --sizes 10000 100000 --batch 50000
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from qiloop.core.records import Box, LabelRecord
from qiloop.labelstore import LabelStore
from qiloop.labelstore.schema import BOX, SCHEMA, TIMESTAMP

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
W, H = 450, 300
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_ids(rng: np.random.Generator, n: int, nbytes: int) -> pa.Array:
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    out = np.empty((n, 2 * nbytes), dtype=np.uint8)
    out[:, 0::2], out[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 15]
    return pa.array(out.view(f"S{2 * nbytes}").ravel()).cast(pa.string())


def make_rows(n: int, seed: int, per_image: float = 3.0) -> pa.Table:
    """``n`` label rows for about ``n / per_image`` images, vectorised (no Python loop per row)."""
    rng = np.random.default_rng(seed)
    images = max(1, int(n / per_image))
    image = np.sort(rng.integers(0, images, n))
    sha = hex_ids(rng, images, 32).take(pa.array(image))
    nb = np.minimum(rng.poisson(2.0, n), 4)
    offsets = np.concatenate([[0], np.cumsum(nb)]).astype(np.int32)
    m = int(offsets[-1])
    w, h = rng.uniform(5, 60, m), rng.uniform(5, 60, m)
    boxes = pa.StructArray.from_arrays(
        [
            pa.array(np.zeros(m, np.int32)),
            pa.array(rng.uniform(0, W - 60, m)),
            pa.array(rng.uniform(0, H - 60, m)),
            pa.array(w),
            pa.array(h),
            pa.array(rng.uniform(0, 1, m), mask=rng.random(m) < 0.7),
        ],
        fields=list(BOX),
    )
    event = (T0.timestamp() * 1e6 + rng.integers(0, 365 * 86_400 * 10**6, n)).astype(np.int64)
    status = np.array(["APPROVED", "REJECTED", "PENDING_VERIFICATION"])[rng.choice(3, n, p=[0.8, 0.1, 0.1])]
    job = np.array([f"job-{j:03d}" for j in range(50)])[rng.integers(0, 50, n)]
    return pa.table(
        {
            "record_id": hex_ids(rng, n, 16),
            "image_uri": pa.compute.binary_join_element_wise("s3://qiloop/images/", sha, ".jpg", ""),
            "image_sha256": sha,
            "image_width": pa.array(np.full(n, W, np.int32)),
            "image_height": pa.array(np.full(n, H, np.int32)),
            "image_depth": pa.array(np.full(n, 3, np.int32)),
            "annotations": pa.ListArray.from_arrays(pa.array(offsets), boxes, type=SCHEMA.field("annotations").type),
            "event_time": pa.array(event, TIMESTAMP),
            "labeling_job": pa.array(job),
            "status": pa.array(status),
            "source": pa.array(np.full(n, "human")),
        }
    )


def timed(fn, repeat: int = 1):
    """(result of the last call, first time, median time) in seconds."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times[0], statistics.median(times)


def bench_size(root: Path, n: int, batch: int, repeat: int, seed: int) -> dict:
    store = LabelStore.from_url(str(root / f"labels-{n}"))
    rows, t_gen, _ = timed(lambda: make_rows(n, seed))
    results, start = [], time.perf_counter()
    for i in range(0, n, batch):
        results.append(store.append_table(rows.slice(i, batch)))
    t_append = time.perf_counter() - start
    middle = results[len(results) // 2]
    out = {"n": n, "gen_s": t_gen, "append_s": t_append, "append_rps": n / t_append, "batches": len(results)}
    # as of the moment the middle batch was written, and as of the version it made
    for name, arg in (("dt", middle.write_time), ("ver", middle.version), ("now", None)):
        table, first, med = timed(lambda arg=arg: store.latest_table(as_of=arg), repeat)
        out[f"latest_{name}_first_s"], out[f"latest_{name}_s"], out[f"latest_{name}_rows"] = first, med, table.num_rows
    _, out["snapshot_s"], _ = timed(store.snapshot)
    records, out["latest_records_s"], _ = timed(store.latest)
    out["latest_records"] = len(records)
    return out


def bench_records(root: Path, n: int, seed: int) -> dict:
    """The record path: build pydantic records (validated), then append them in one commit."""
    rows = make_rows(n, seed).to_pylist()

    def build() -> list[LabelRecord]:
        return [
            LabelRecord(
                image_uri=r["image_uri"],
                image_sha256=r["image_sha256"],
                image_width=r["image_width"],
                image_height=r["image_height"],
                image_depth=r["image_depth"],
                annotations=tuple(Box(**b) for b in r["annotations"]),
                event_time=r["event_time"],
                labeling_job=r["labeling_job"],
                status=r["status"],
                source=r["source"],
            )
            for r in rows
        ]

    records, t_build, _ = timed(build)
    store = LabelStore.from_url(str(root / "labels-records"))
    result, t_write, _ = timed(lambda: store.append(records))
    return {"n": n, "build_s": t_build, "write_s": t_write, "written": result.written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=100_000, help="rows per append (one commit each)")
    parser.add_argument("--record-path", type=int, default=100_000, help="records for the pydantic path (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="query repetitions (median reported)")
    parser.add_argument("--dir", type=Path, default=None, help="where the tables go (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        if args.record_path:
            r = bench_records(root, args.record_path, args.seed)
            print(
                f"record path, {r['n']:,} records: build {r['build_s']:.2f} s ({r['n'] / r['build_s']:,.0f}/s), "
                f"append {r['write_s']:.2f} s ({r['n'] / r['write_s']:,.0f}/s), "
                f"end to end {r['n'] / (r['build_s'] + r['write_s']):,.0f} records/s"
            )
        head = (
            f"{'records':>10} {'append/s':>10} {'latest dt':>10} {'latest ver':>10} {'latest now':>10} "
            f"{'1st call':>9} {'rows':>8} {'snapshot':>9} {'->records':>10}"
        )
        print(head)
        results = []
        for n in args.sizes:
            r = bench_size(root, n, min(args.batch, n), args.repeat, args.seed)
            results.append(r)
            print(
                f"{n:>10,} {r['append_rps']:>10,.0f} {r['latest_dt_s']:>9.3f}s {r['latest_ver_s']:>9.3f}s "
                f"{r['latest_now_s']:>9.3f}s {r['latest_now_first_s']:>8.3f}s {r['latest_now_rows']:>8,} "
                f"{r['snapshot_s']:>8.3f}s {r['latest_records_s']:>9.2f}s",
                flush=True,
            )
        for a, b in itertools.pairwise(results):
            growth = b["latest_now_s"] / a["latest_now_s"]
            print(f"latest(now) x{b['n'] / a['n']:.0f} records -> x{growth:.1f} time")


if __name__ == "__main__":
    main()
