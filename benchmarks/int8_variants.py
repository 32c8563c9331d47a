"""INT8 variants of one trained model package, scored with the project's own evaluator.

Quantises the package's ``model.onnx`` with each calibration setting (number of
calibration images, activation-range method, per-tensor or per-channel weights),
runs every variant through the edge runtime on the dataset's test split, and
prints mAP50 / mAP50-95 next to FP32. Works on the folder ``benchmarks/train_real.py``
writes (``<run>/package`` and ``<run>/dataset``).

Run: ``python benchmarks/int8_variants.py benchmarks/out/<run> [--calibration 64 141] [--methods minmax percentile]``.
Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a train_real.py output folder (with package/ and dataset/)")
    p.add_argument("--calibration", type=int, nargs="+", default=[64, 1000], help="calibration image counts")
    p.add_argument("--methods", nargs="+", default=["minmax", "percentile", "entropy"])
    p.add_argument("--per-channel", choices=["no", "yes", "both"], default="both")
    p.add_argument("--split", default="test")
    return p.parse_args()


def yolo_records(dataset: Path, split: str) -> list[SimpleNamespace]:
    """Labelled items from a YOLO folder: the image path and its boxes in pixels."""
    from PIL import Image

    from qiloop.core.records import Box

    items = []
    for image in sorted((dataset / "images" / split).iterdir()):
        width, height = Image.open(image).size
        boxes = []
        label = dataset / "labels" / split / f"{image.stem}.txt"
        for line in label.read_text().splitlines() if label.exists() else []:
            cls, cx, cy, w, h = (float(v) for v in line.split())
            left, top = max(0.0, (cx - w / 2) * width), max(0.0, (cy - h / 2) * height)
            boxes.append(Box(class_id=int(cls), left=left, top=top, width=w * width, height=h * height))
        items.append(SimpleNamespace(path=image, annotations=boxes))
    return items


def main() -> int:
    args = parse_args()
    from qiloop.training.evaluate import evaluate_package
    from qiloop.training.export import evenly
    from qiloop.training.quantize import quantize_int8

    package, dataset = args.run / "package", args.run / "dataset"
    records = yolo_records(dataset, args.split)
    train = sorted((dataset / "images" / "train").iterdir())
    read = lambda item: item.path.read_bytes()  # noqa: E731
    fp32 = evaluate_package(package, records, read, threads=2).metrics
    print(f"{len(records)} {args.split} images; FP32: mAP50 {fp32.map50:.3f}, mAP50-95 {fp32.map50_95:.3f}", flush=True)
    rows = []
    channels = {"no": [False], "yes": [True], "both": [False, True]}[args.per_channel]
    for count in args.calibration:
        calib = evenly(train, min(count, len(train)))
        for method in args.methods:
            for per_channel in channels:
                with tempfile.TemporaryDirectory(prefix="qiloop-int8-") as tmp:
                    variant = Path(tmp) / "package"
                    shutil.copytree(package, variant)
                    hw = _input_hw(variant)
                    quantize_int8(variant / "model.onnx", variant / "model.int8.onnx", calib, input_hw=hw,
                                  per_channel=per_channel, method=method)  # fmt: skip
                    _restamp(variant)
                    m = evaluate_package(variant, records, read, int8=True, threads=2).metrics
                row = {"calibration": len(calib), "method": method, "per_channel": per_channel,
                       "map50": round(m.map50, 4), "map50_95": round(m.map50_95, 4),
                       "drop_map50": round(fp32.map50 - m.map50, 4)}  # fmt: skip
                rows.append(row)
                print(f"  {len(calib):4d} images  {method:10s}  per-channel {per_channel!s:5s}  mAP50 {m.map50:.3f} "
                      f"({m.map50 - fp32.map50:+.3f})  mAP50-95 {m.map50_95:.3f}", flush=True)  # fmt: skip
    best = min(rows, key=lambda r: r["drop_map50"])
    print(f"best: {best}")
    (args.run / "int8_variants.json").write_text(
        json.dumps({"fp32": {"map50": fp32.map50, "map50_95": fp32.map50_95}, "variants": rows}, indent=2)
    )
    return 0


def _input_hw(package: Path) -> tuple[int, int]:
    doc = json.loads((package / "manifest.json").read_text())
    return doc["input_height"], doc["input_width"]


def _restamp(package: Path) -> None:
    """Record the new INT8 file's sha256 and size in the manifest, as the export does."""
    import hashlib

    path = package / "manifest.json"
    doc = json.loads(path.read_text())
    data = (package / "model.int8.onnx").read_bytes()
    doc["files"]["model.int8.onnx"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    path.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    sys.exit(main())
