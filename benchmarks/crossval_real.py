"""Compare training recipes on the real metal-tag photos by cross-validation grouped by photo.

Each recipe is a list of training-config overrides; each is trained once per
fold (all K, or the rounds given with --rounds for screening) and scored on its
test fold. Prints one line per round as it finishes and a table of mean ± std of
test mAP50 and mAP50-95 per recipe; writes crossval.json (and a picture) per
recipe under the output folder.

Run, e.g. a screening of two rounds of five at 30 epochs::

    python benchmarks/crossval_real.py --folds 5 --rounds 0 1 --epochs 30 \\
        --recipe scratch model=yolov8n.yaml --recipe synthetic model=builtin:synthetic-yolov8n.pt \\
        --recipe paste model=builtin:synthetic-yolov8n.pt paste.copies=1

Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO / ".." / "shared" / "data" / "metal-tags"
BASE = ["imgsz=448", "batch=8", "nbs=8", "cos_lr=true", "augment.flipud=0.5", "patience=0", "workers=2"]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--rounds", type=int, nargs="*", default=None, help="only these rounds (0-based)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument(
        "--recipe",
        nargs="+",
        action="append",
        metavar=("NAME", "KEY=VALUE"),
        help="a recipe: its name, then overrides on top of the base (" + " ".join(BASE) + ")",
    )
    p.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/out/crossval-TIME)")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    if not (REAL_DATA / "labels.csv").is_file():
        print(f"real metal-tag data not found at {REAL_DATA.resolve()}; nothing to measure")
        return 0
    from qiloop.labelstore import LabelStore
    from qiloop.labelstore.formats import labels_csv
    from qiloop.labelstore.importer import import_parsed
    from qiloop.storage import ImageStore
    from qiloop.training.config import TrainConfig
    from qiloop.training.crossval import METRICS, cross_validate

    recipes = args.recipe or [["scratch", "model=yolov8n.yaml"]]
    out = args.out or REPO / "benchmarks" / "out" / f"crossval-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="qiloop-crossval-"))
    images, labels = ImageStore.from_url(str(home / "images")), LabelStore.from_url(str(home / "labels"))
    report = import_parsed(labels_csv.read(REAL_DATA / "labels.csv"), images, labels, images_root=REAL_DATA)
    print(f"imported {report.written} labels ({len(report.errors)} errors); output: {out}", flush=True)

    results = {}
    for name, *overrides in recipes:
        config = TrainConfig.from_overrides(TrainConfig(), [*BASE, f"epochs={args.epochs}", *overrides])
        print(f"\nrecipe {name}: {' '.join(overrides)} (epochs {config.epochs}, imgsz {config.imgsz})", flush=True)
        started = time.perf_counter()

        def on_fold(fold: int, step: str, name: str = name) -> None:
            if step == "test":
                print(f"  {name} fold {fold}: trained, testing", flush=True)

        result = cross_validate(
            config, labels=labels, images=images, workdir=out / name, folds=args.folds, only=args.rounds,
            on_fold=on_fold,
        )  # fmt: skip
        for r in result.rounds:
            figures = " ".join(f"{m} {r.metrics[m]:.3f}" for m in METRICS)
            print(f"  {name} fold {r.fold}: {figures} ({r.seconds:.0f} s, test {r.images.get('test', 0)} images)")
        results[name] = result.summary() | {"seconds": round(time.perf_counter() - started)}

    print(f"\n{'recipe':<16} {'rounds':>6} {'mAP50':>15} {'mAP50-95':>15}")
    rounds = len(args.rounds) if args.rounds else args.folds
    for name, summary in results.items():
        cells = [f"{summary[m]['mean']:.3f} ± {summary[m]['std']:.3f}" for m in ("mAP50", "mAP50-95")]
        print(f"{name:<16} {rounds:>6} {cells[0]:>15} {cells[1]:>15}")
    (out / "summary.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
