"""Labelling figures: consolidation quality on the real tags, consolidation speed, service throughput.

1. **Quality.** Three simulated annotators (two careful, one sloppy; the noise of
   ``labeling.simulated``) label every image of ``../shared/data/metal-tags``
   (truth: its labels.csv), for several seeds. One image in five is gold: there
   each annotator's F1 gives their reliability weight (``labeling.gold``), as in
   the service; the other images are measured. Compared: the reliability-weighted
   consolidation (majority quorum), plain majority voting (equal weights, 2 of 3),
   each single annotator, and a support-threshold vote (keep a box when its
   annotators hold at least a share of the total weight).
2. **Consolidation speed**: the pure function over many images, annotations/s
   (one annotation = one annotator's boxes for one image).
3. **Service throughput**: 20 bot workers fetch and submit tasks over real HTTP
   at once, on SQLite and (when reachable) the PostgreSQL server on 127.0.0.1:5432.

Run: ``python benchmarks/bench_labeling.py [--seeds 5] [--speed-images 20000] [--tasks 600]``.
Figures also go to ``benchmarks/out/``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np

from qiloop.labeling.consolidation import DEFAULT_MIN_SUPPORT, consolidate
from qiloop.labeling.gold import reliability, score_against_gold
from qiloop.sim.truth import SLOPPY, Noise, noisy_boxes, quality

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "metal-tags"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
ANNOTATORS = {"careful-1": Noise(), "careful-2": Noise(), "sloppy": SLOPPY}


def real_truth() -> dict[str, tuple] | None:
    """The real tags' boxes by image reference, or None when the data set is absent."""
    from qiloop.labelstore.formats import labels_csv

    if not (DATA / "labels.csv").exists():
        return None
    parsed = labels_csv.read(DATA / "labels.csv")
    return {d.image_ref: (d.annotations, d.image_width, d.image_height) for d in parsed.drafts}


def simulate(truth: dict, seed: int) -> dict[str, dict[str, list]]:
    """Every annotator's noisy boxes for every image: image -> annotator -> boxes."""
    rngs = {name: np.random.default_rng([seed, i]) for i, name in enumerate(ANNOTATORS)}
    return {
        ref: {name: noisy_boxes(boxes, w, h, noise, rngs[name]) for name, noise in ANNOTATORS.items()}
        for ref, (boxes, w, h) in truth.items()
    }


def quality_run(truth: dict, seed: int) -> dict[str, dict]:
    """One seed: each method's F1@0.5 and mean IoU on the non-gold images."""
    drawn = simulate(truth, seed)
    refs = sorted(truth)
    gold, measured = refs[::5], [r for i, r in enumerate(refs) if i % 5]
    weights = {
        name: reliability([score_against_gold(drawn[r][name], truth[r][0]).f1 for r in gold]) for name in ANNOTATORS
    }
    boxes_of = {r: truth[r][0] for r in measured}
    names = ["consolidated", "weighted vote 0.4", "majority", *ANNOTATORS]
    methods: dict[str, dict[str, list]] = {name: {} for name in names}
    methods.update({f"support>={t}": {} for t in (0.4, 0.5)})
    for ref in measured:
        ours = consolidate(drawn[ref], weights)
        methods["consolidated"][ref] = [c.box for c in ours.boxes]
        voted = consolidate(drawn[ref], weights, min_support=DEFAULT_MIN_SUPPORT)  # what jobs use by default
        methods["weighted vote 0.4"][ref] = [c.box for c in voted.boxes]
        equal = consolidate(drawn[ref], {n: 1.0 for n in ANNOTATORS}, quorum=2)
        methods["majority"][ref] = [c.box for c in equal.boxes]
        loose = consolidate(drawn[ref], weights, quorum=1)
        for t in (0.4, 0.5):
            methods[f"support>={t}"][ref] = [c.box for c in loose.boxes if c.support >= t]
        for name in ANNOTATORS:
            methods[name][ref] = drawn[ref][name]
    out = {}
    for name, predicted in methods.items():
        q = quality(predicted, boxes_of)
        out[name] = {"f1": q.f1, "mean_iou": q.mean_iou, "fp": q.false_positives, "fn": q.false_negatives}
    out["weights"] = weights
    return out


def consolidation_speed(truth: dict, images: int) -> dict:
    """Consolidations of ``images`` simulated images (cycling the truth), timed alone."""
    refs = sorted(truth)
    pool = simulate(truth, 99)
    work = [pool[refs[i % len(refs)]] for i in range(images)]
    boxes = sum(len(b) for drawn in work for b in drawn.values())
    start = time.perf_counter()
    for drawn in work:
        consolidate(drawn)
    seconds = time.perf_counter() - start
    count = images * len(ANNOTATORS)
    return {"images": images, "annotations": count, "boxes": boxes, "seconds": seconds,
            "annotations_per_s": count / seconds, "images_per_s": images / seconds}  # fmt: skip


def service_throughput(db_url: str | None, tasks: int, workers: int = 20, per_image: int = 3) -> dict:
    """``workers`` bots fetch and submit ``tasks`` tasks over HTTP; tasks per second."""
    import io

    from PIL import Image

    from qiloop.core.records import Box
    from qiloop.labeling import bots, jobs
    from qiloop.labeling.api.app import create_app
    from qiloop.labeling.api.server import BackgroundServer
    from qiloop.labeling.db import Database
    from qiloop.labelstore import LabelStore
    from qiloop.settings import Settings
    from qiloop.storage import ImageStore

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), **({"labeling_db_url": db_url} if db_url else {}))
        db = Database.from_settings(settings)
        images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
        rng = np.random.default_rng(0)
        records, truth = [], {}
        for k in range(tasks // per_image):
            out = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (224, 320), dtype=np.uint8)).save(out, "PNG")
            record = images.ingest_bytes(out.getvalue(), name=f"bench-{k:05d}.png")
            records.append(record)
            truth[record.sha256] = (Box(class_id=0, left=40, top=30, width=120, height=20),)
        with db.session() as session:
            spec = jobs.JobSpec.build(name="bench", classes=["scratch"], annotators_per_image=per_image)
            jobs.create_job(session, spec, records)
        accounts = bots.bot_accounts(db, workers, sloppy=1)
        app = create_app(settings, db=db, image_store=images, label_store=labels)
        try:
            with BackgroundServer(app) as server:
                run = bots.label_job(server.url, "bench", accounts, truth, seed=1)
        finally:
            db.dispose()
    return {"workers": workers, "tasks": run.tasks, "seconds": run.seconds, "tasks_per_s": run.tasks_per_second,
            "conflicts": run.conflicts, "backend": "postgresql" if db_url else "sqlite"}  # fmt: skip


def postgres_url() -> tuple[str, object] | None:
    """A fresh database on the local PostgreSQL server, or None when it is unreachable."""
    try:
        import psycopg2

        admin = psycopg2.connect(f"{POSTGRES}/postgres", connect_timeout=3)
    except Exception as exc:  # any failure means: skip this backend, and say why
        print(f"PostgreSQL skipped: {exc}".strip())
        return None
    admin.autocommit = True
    name = f"qiloop_bench_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')  # generated name, not user input
    return f"{POSTGRES}/{name}", (admin, name)


def drop(handle) -> None:
    admin, name = handle
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--speed-images", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=600)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    figures: dict = {}

    truth = real_truth()
    if truth is None:
        print(f"real-data quality skipped: {DATA} is absent (the metal-tag photos and their labels.csv)")
    else:
        runs = [quality_run(truth, seed) for seed in range(args.seeds)]
        methods = [m for m in runs[0] if m != "weights"]
        summary = {m: {k: float(np.mean([r[m][k] for r in runs])) for k in runs[0][m]} for m in methods}
        summary["f1_std"] = {m: float(np.std([r[m]["f1"] for r in runs])) for m in methods}
        best = max(ANNOTATORS, key=lambda a: summary[a]["f1"])
        figures["quality"] = {"images": len(truth), "seeds": args.seeds, "methods": summary, "best_single": best,
                              "weights": [r["weights"] for r in runs]}  # fmt: skip
        print(f"consolidation quality: {len(truth)} real images (4 in 5 measured), {args.seeds} seeds, mean over seeds")
        for m in methods:
            s = summary[m]
            print(f"  {m:<14} F1@0.5 {s['f1']:.4f} ± {summary['f1_std'][m]:.4f}   mean IoU {s['mean_iou']:.4f}"
                  f"   FP {s['fp']:.1f}  FN {s['fn']:.1f}")  # fmt: skip
        print(f"  best single annotator: {best}; reliability weights (seed 0): "
              + ", ".join(f"{k} {v:.2f}" for k, v in runs[0]["weights"].items()))  # fmt: skip

    speed = consolidation_speed(truth or _synthetic_truth(), args.speed_images)
    figures["consolidation_speed"] = speed
    print(f"consolidation speed: {speed['annotations']} annotations ({speed['boxes']} boxes) in "
          f"{speed['seconds']:.2f} s: {speed['annotations_per_s']:.0f} annotations/s, "
          f"{speed['images_per_s']:.0f} images/s (one thread)")  # fmt: skip

    figures["service"] = [service_throughput(None, args.tasks)]
    pg = None if args.no_postgres else postgres_url()
    if pg is not None:
        try:
            figures["service"].append(service_throughput(pg[0], args.tasks))
        finally:
            drop(pg[1])
    for s in figures["service"]:
        print(f"service throughput ({s['backend']}): {s['workers']} bots, {s['tasks']} fetch+submit in "
              f"{s['seconds']:.1f} s = {s['tasks_per_s']:.1f} tasks/s, {s['conflicts']} lease conflicts")  # fmt: skip

    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_labeling-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(figures, indent=2))
    print(f"figures: {path}")


def _synthetic_truth() -> dict:
    from qiloop.synth import photo_rng, render_photo

    truth = {}
    for k in range(50):
        for crop in render_photo(photo_rng(0, k), (450, 300)).crops():
            truth[f"synth-{k}-{crop.position}"] = (tuple(crop.boxes), 450, 300)
    return truth


if __name__ == "__main__":
    main()
