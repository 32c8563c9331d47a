"""Train on the real metal-tag photos and report test-split figures, epoch times and the learning curve.

import labels.csv into a fresh home -> label-store snapshot -> dataset split by
photo -> YOLO training from scratch -> ultralytics' validator on the test
split (crops of photos the model never saw) -> ONNX FP32 + INT8 package with
the parity check -> INT8 vs FP32 size and mAP50.

Run: ``python benchmarks/train_real.py [--epochs 60] [--imgsz 448] [--batch 16] [--set key=value ...]``.
Outputs (log, curve PNG, summary JSON, the run folder) go to ``benchmarks/out/``.
Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO / ".." / "shared" / "data" / "metal-tags"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--imgsz", type=int, default=448)
    p.add_argument("--model", default="yolov8n.yaml")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="extra key=value config settings")
    p.add_argument("--no-export", action="store_true", help="skip the ONNX/INT8 package")
    p.add_argument("--out", type=Path, default=None, help="run folder (default benchmarks/out/train_real-TIME)")
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
    from qiloop.training import ultralytics_adapter as adapter
    from qiloop.training.config import TrainConfig
    from qiloop.training.dataset import build_dataset
    from qiloop.training.shapes import input_hw

    out = args.out or REPO / "benchmarks" / "out" / f"train_real-{datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig.from_overrides(
        TrainConfig(),
        [
            f"epochs={args.epochs}",
            f"imgsz={args.imgsz}",
            f"model={args.model}",
            f"batch={args.batch}",
            f"workers={args.workers}",
            f"seed={args.seed}",
            f"device={args.device}",
            *args.overrides,
        ],
    )
    print(f"config:\n{cfg.to_yaml()}", flush=True)

    home = Path(tempfile.mkdtemp(prefix="qiloop-train-real-"))
    images, labels = ImageStore.from_url(str(home / "images")), LabelStore.from_url(str(home / "labels"))
    started = time.perf_counter()
    report = import_parsed(labels_csv.read(REAL_DATA / "labels.csv"), images, labels, images_root=REAL_DATA)
    print(f"imported {report.written} labels ({len(report.errors)} errors) in {time.perf_counter() - started:.1f} s")
    data = build_dataset(labels, images, out / "dataset", ratios=cfg.ratios, classes=cfg.classes)
    data.card.save_png(out / "dataset_card.png")
    for split, stats in data.card.splits.items():
        print(f"  {split:<5} {stats.images:4d} images {stats.boxes:4d} boxes {stats.negatives:3d} negatives")
    hw = input_hw(*data.image_size, cfg.imgsz)
    print(f"input (h, w) = {hw} for {data.image_size[0]}x{data.image_size[1]} images", flush=True)

    print(f"{'epoch':>5} {'box':>6} {'cls':>6} {'dfl':>6} {'P':>6} {'R':>6} {'mAP50':>6} {'50-95':>6} {'s':>6}")

    def on_epoch(row: dict) -> None:
        print(_row(row), flush=True)

    result = adapter.train(cfg, data.data_yaml, out / "train", on_epoch=on_epoch)
    seconds = [r["seconds"] for r in result.history]
    summary: dict = {
        "config": cfg.model_dump(mode="json"),
        "input_hw": list(hw),
        "device": result.device,
        "epochs_run": len(result.history),
        "train_seconds": round(result.seconds, 1),
        "seconds_per_epoch": round(sum(seconds) / len(seconds), 1),
        "history": result.history,
    }
    best_epoch = max(result.history, key=lambda r: 0.1 * r.get("mAP50", 0) + 0.9 * r.get("mAP50-95", 0))["epoch"]
    print(f"\ntrained {len(result.history)} epochs in {result.seconds / 60:.1f} min "
          f"({summary['seconds_per_epoch']} s/epoch on {result.device}); best epoch {best_epoch}")  # fmt: skip
    for split in ("val", "test"):
        summary[split] = adapter.val(result.best, data.data_yaml, imgsz=cfg.imgsz, split=split, device=result.device)
        print(f"{split:>5} split (best.pt): " + ", ".join(f"{k} {v:.3f}" for k, v in summary[split].items()))
    _curve(result.history, out / "learning_curve.png")

    if not args.no_export:
        summary["export"] = _export(cfg, data, result, hw, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"\noutputs: {out}")
    return 0


def _row(r: dict) -> str:
    return (
        f"{r['epoch']:5d} {r.get('train/box_loss', 0):6.3f} {r.get('train/cls_loss', 0):6.3f} "
        f"{r.get('train/dfl_loss', 0):6.3f} {r.get('precision', 0):6.3f} {r.get('recall', 0):6.3f} "
        f"{r.get('mAP50', 0):6.3f} {r.get('mAP50-95', 0):6.3f} {r['seconds']:6.1f}"
    )


def _export(cfg, data, result, hw, out: Path) -> dict:
    from qiloop.training import ultralytics_adapter as adapter
    from qiloop.training.export import evenly, export_package

    package = export_package(
        result.best,
        out / "package",
        input_hw=hw,
        classes=cfg.classes,
        calibration_images=evenly(data.images("train"), cfg.export.calibration_images),
        test_images=data.images("test"),
        manifest_fields={"name": cfg.name, "training_config": cfg.model_dump(mode="json")},
    )
    print(f"\n{package.parity.summary()}")
    figures = {"seconds": package.seconds, "fp32_bytes": package.fp32_bytes, "int8_bytes": package.int8_bytes}
    for name, path in (("fp32", package.fp32), ("int8", package.int8)):
        figures[name] = adapter.val(path, data.data_yaml, imgsz=cfg.imgsz, split="test", batch=1)
    print(
        f"export {package.seconds['export']:.1f} s, parity {package.seconds['parity']:.1f} s, "
        f"INT8 quantisation {package.seconds.get('quantize', 0):.1f} s\n"
        f"size: FP32 {package.fp32_bytes / 1e6:.2f} MB, INT8 {package.int8_bytes / 1e6:.2f} MB\n"
        f"test mAP50: ONNX FP32 {figures['fp32']['mAP50']:.3f}, INT8 {figures['int8']['mAP50']:.3f} "
        f"(difference {figures['fp32']['mAP50'] - figures['int8']['mAP50']:+.3f})"
    )
    return figures


def _curve(history: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for key in ("mAP50", "mAP50-95", "precision", "recall"):
        left.plot(epochs, [r.get(key, 0) for r in history], label=key)
    left.set_xlabel("epoch")
    left.set_title("validation")
    left.legend()
    for key in ("train/box_loss", "train/cls_loss", "train/dfl_loss", "val/box_loss"):
        right.plot(epochs, [r.get(key, 0) for r in history], label=key)
    right.set_xlabel("epoch")
    right.set_title("losses")
    right.legend()
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    sys.exit(main())
