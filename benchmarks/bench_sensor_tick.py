"""Seconds of one trigger tick with 10^6 images in the image store and 10^6 records in the label store.

Builds, in a temporary folder, an image index of N rows written as the ingest
writes it (one Delta commit per ingest batch) and a label store of N records,
then adds a few new images, feedback and approvals, and times one tick of the
real sensors (``labels_wanted``, ``labels_approved``) from a cursor just before
those additions, through Dagster's ``build_sensor_context`` on a test instance.
For reference it also times the first tick (no cursor: everything is new) and
what the old way costs: ``images.unlabeled(labels.labeled_sha256s())`` builds a
record per unlabelled image.

Usage:
    python benchmarks/bench_sensor_tick.py                 # 10^6 images, ingest batches of 500
    python benchmarks/bench_sensor_tick.py --images 100000 --batch 5000 --no-baseline
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_label_store import hex_ids, make_rows

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def index_rows(start: int, n: int, seed: int, at: datetime) -> pa.Table:
    """``n`` index rows (the schema of ``qiloop.storage.index``), ingested around ``at``."""
    from qiloop.storage.index import SCHEMA

    rng = np.random.default_rng(seed)
    sha = hex_ids(rng, n, 32)
    stamp = np.int64(at.timestamp() * 1e6) + np.arange(n, dtype=np.int64)
    names = pa.array([f"frame-{start + i:07d}.jpg" for i in range(n)])
    return pa.table(
        {
            "sha256": sha,
            "key": pa.compute.binary_join_element_wise("blobs/", sha, ".jpg", ""),
            "width": pa.array(np.full(n, 450, np.int32)),
            "height": pa.array(np.full(n, 300, np.int32)),
            "depth": pa.array(np.full(n, 3, np.int8)),
            "format": pa.array(np.full(n, "jpeg")),
            "size_bytes": pa.array(np.full(n, 40_000, np.int64)),
            "source": pa.array(np.full(n, "camera:line-1")),
            "captured_at": pa.array(stamp, SCHEMA.field("captured_at").type),
            "ingested_at": pa.array(stamp, SCHEMA.field("ingested_at").type),
            "group": names,
            "original_name": names,
        },
        schema=SCHEMA,
    )


def build(root: Path, images: int, batch: int, label_batch: int) -> tuple[object, datetime]:
    """The stores under ``root``; returns the settings and the moment before the last additions."""
    from qiloop.labelstore import LabelStore
    from qiloop.settings import load_settings
    from qiloop.storage import ImageStore

    settings = load_settings(home=root / "home", label_job_min_images=20, retrain_after_labels=12)
    store = ImageStore.from_settings(settings)  # creates the index and its folder
    index_uri = f"{store.url}/_index"
    started = time.perf_counter()
    for i, start in enumerate(range(0, images, batch)):
        rows = index_rows(start, min(batch, images - start), seed=i, at=T0 + timedelta(minutes=i))
        write_deltalake(index_uri, rows, mode="append")
    print(f"  image index: {images:,} rows in {-(-images // batch):,} commits, {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    labels = LabelStore.from_settings(settings)
    records = make_rows(images, seed=1)
    for start in range(0, images, label_batch):
        labels.append_table(records.slice(start, label_batch))
    seconds = time.perf_counter() - started
    print(f"  label store: {images:,} records in {-(-images // label_batch)} appends, {seconds:.0f} s")
    return settings, datetime.now(timezone.utc)


def add_recent(settings, n_images: int, n_labels: int) -> None:
    """What arrives between two ticks: a few ingest batches, feedback, and approvals."""
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore
    from qiloop.storage.feedback import FeedbackEntry

    store = ImageStore.from_settings(settings)
    now = datetime.now(timezone.utc)
    write_deltalake(f"{store.url}/_index", index_rows(10**9, n_images, seed=99, at=now), mode="append")
    sha = hex_ids(np.random.default_rng(5), 1, 32)[0].as_py()
    store.feedback.append(
        [
            FeedbackEntry(
                image_sha256=sha,
                image_name="f.jpg",
                device_id="d1",
                sequence=1,
                reason="uncertain",
                model_name="scratch-detector",
                sent_at=now,
            )
        ]
    )
    rows = make_rows(n_labels, seed=7, per_image=1.0)
    rows = rows.set_column(rows.schema.get_field_index("status"), "status", pa.array(["APPROVED"] * n_labels))
    LabelStore.from_settings(settings).append_table(rows)


def tick(sensor, settings, cursor: str | None):
    import dagster as dg

    from qiloop.orchestration.resources import resources_for

    resources = resources_for(settings)
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context,
    ):
        started = time.perf_counter()
        data = sensor.evaluate_tick(context)
        return time.perf_counter() - started, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500, help="rows per index commit (the ingest's batch size)")
    parser.add_argument("--label-batch", type=int, default=50_000, help="label records per append")
    parser.add_argument("--no-baseline", action="store_true", help="skip timing images.unlabeled()")
    args = parser.parse_args()

    from qiloop.orchestration.sensors import labels_approved_sensor, labels_wanted_sensor

    with tempfile.TemporaryDirectory(prefix="qiloop-bench-tick-") as tmp:
        print(f"building stores with {args.images:,} images …")
        settings, before = build(Path(tmp), args.images, args.batch, args.label_batch)
        cursor_time = before.isoformat()
        add_recent(settings, n_images=40, n_labels=40)
        index = DeltaTable(f"{settings.image_store_url}/_index")
        print(f"  index: version {index.version()}, {len(index.file_uris()):,} data files")

        import json

        wanted_cursor = json.dumps({"images": cursor_time, "feedback": cursor_time})
        print("one tick from a cursor (what the daemon does every 30 s):")
        for name, sensor, cursor in (
            ("labels_wanted", labels_wanted_sensor, wanted_cursor),
            ("labels_approved", labels_approved_sensor, cursor_time),
        ):
            seconds = []
            for _ in range(3):
                took, data = tick(sensor, settings, cursor)
                seconds.append(took)
            runs = len(data.run_requests or [])
            print(f"  {name:<16} {min(seconds):.3f} s (best of 3; first {seconds[0]:.3f} s), {runs} run requested")
        print("first tick, no cursor (everything counts as new; once per install):")
        for name, sensor in (("labels_wanted", labels_wanted_sensor), ("labels_approved", labels_approved_sensor)):
            took, _ = tick(sensor, settings, None)
            print(f"  {name:<16} {took:.3f} s")

        if not args.no_baseline:
            from qiloop.labelstore import LabelStore
            from qiloop.storage import ImageStore

            started = time.perf_counter()
            images = ImageStore.from_settings(settings)
            opened = time.perf_counter() - started
            labeled = LabelStore.from_settings(settings).labeled_sha256s()
            started = time.perf_counter()
            waiting = images.unlabeled(labeled)
            print(f"the old way: images.unlabeled() {time.perf_counter() - started:.1f} s for {len(waiting):,} records "
                  f"(after {opened:.1f} s opening the store)")  # fmt: skip


if __name__ == "__main__":
    main()
