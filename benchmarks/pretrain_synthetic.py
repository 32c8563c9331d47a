"""Rebuild the shipped synthetic checkpoint and check its figures on synthetic tags it never saw.

`qiloop pretrain` with the recorded recipe -> a new checkpoint; then both the
rebuilt and the shipped checkpoint are scored by ultralytics' validator on
held-out synthetic images (a seed neither the demo nor the recipe uses). Prints
the build time, both checkpoints' figures and whether the rebuilt one comes
within --tolerance of the shipped one's mAP50 (CPU training is reproducible
only up to floating-point order, so the check is on figures, not bytes).

Run: ``python benchmarks/pretrain_synthetic.py [--skip-rebuild] [--held-out 96] [--held-out-seed 9100]``.
Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skip-rebuild", action="store_true", help="only score the shipped checkpoint")
    p.add_argument("--held-out", type=int, default=96, help="held-out synthetic images")
    p.add_argument("--held-out-seed", type=int, default=9100)
    p.add_argument("--tolerance", type=float, default=0.05, help="allowed mAP50 gap, rebuilt vs shipped")
    return p.parse_args()


def held_out(root: Path, n: int, seed: int, imgsz: int) -> Path:
    from qiloop.labelstore import LabelStore
    from qiloop.labelstore.formats import labels_csv
    from qiloop.labelstore.importer import import_parsed
    from qiloop.settings import load_settings
    from qiloop.storage import ImageStore
    from qiloop.synth import generate_dataset
    from qiloop.training.dataset import build_dataset

    settings = load_settings(home=root / "home")
    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    report = generate_dataset(root / "synth", n, seed=seed)
    import_parsed(labels_csv.read(report.labels_csv), images, labels, images_root=root / "synth")
    data_yaml = build_dataset(labels, images, root / "dataset", ratios={"val": 1.0}).data_yaml
    import yaml

    spec = yaml.safe_load(data_yaml.read_text())
    spec.setdefault("train", spec["val"])  # ultralytics' validator insists on a train entry; it is never read
    data_yaml.write_text(yaml.safe_dump(spec))
    return data_yaml


def main() -> None:
    args = parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from qiloop.training import checkpoints
    from qiloop.training.pretrain import CHECKPOINT, pretrain
    from qiloop.training.ultralytics_adapter import val

    shipped = Path(checkpoints.resolve(f"builtin:{CHECKPOINT}"))
    record = checkpoints.record(CHECKPOINT)
    imgsz = record["config"]["imgsz"]
    with tempfile.TemporaryDirectory(prefix="bench-pretrain-") as tmp:
        root = Path(tmp)
        data = held_out(root / "held-out", args.held_out, args.held_out_seed, imgsz)
        rows = {"shipped": val(shipped, data, imgsz=imgsz, split="val")}
        print(f"shipped {CHECKPOINT}: built in {record['seconds']:.0f} s; {record['built_by']}")
        if not args.skip_rebuild:
            started = time.perf_counter()
            rebuilt = pretrain(root / "rebuilt", images=record["data"]["images"], seed=record["data"]["seed"])
            print(f"rebuilt in {time.perf_counter() - started:.0f} s (this machine, now)")
            rows["rebuilt"] = val(rebuilt.checkpoint, data, imgsz=imgsz, split="val")
    print(f"held-out synthetic images: {args.held_out} (seed {args.held_out_seed})")
    print(f"{'checkpoint':<10} {'mAP50':>7} {'mAP50-95':>9} {'precision':>10} {'recall':>7}")
    for name, m in rows.items():
        print(f"{name:<10} {m['mAP50']:>7.3f} {m['mAP50-95']:>9.3f} {m['precision']:>10.3f} {m['recall']:>7.3f}")
    if "rebuilt" in rows:
        gap = abs(rows["rebuilt"]["mAP50"] - rows["shipped"]["mAP50"])
        print(f"rebuilt vs shipped mAP50 gap {gap:.3f}: {'within' if gap <= args.tolerance else 'OUTSIDE'} "
              f"the tolerance {args.tolerance}")  # fmt: skip
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
