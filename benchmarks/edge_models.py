"""The models and images the edge benchmarks run: one set of weights, exported twice.

- qiloop's package: the weights exported at the aspect-true input (h 320, w 448
  for 450x300 images), ``model.int8.onnx`` statically quantised by
  :func:`qiloop.training.quantize.quantize_int8`, and a manifest.
- the reference path's model: the same weights exported square (448x448), as the
  reference application did, and its INT8 copy quantised the same way (same
  calibration images, letterboxed to the square).

Without ``--weights`` the weights are an untrained yolov8n built from its yaml
with a fixed seed, following ``tests/onnx_models.py`` (batch-norm statistics
calibrated on random images, head biases spread), and saved as a ``.pt`` so both
exports come from the very same tensors. Everything is cached under
``benchmarks/out/edge_models/``.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_IMAGES = REPO / ".." / "shared" / "data" / "metal-tags" / "images"
REAL_LABELS = REPO / ".." / "shared" / "data" / "metal-tags" / "labels.csv"
WORK = REPO / "benchmarks" / "out" / "edge_models"
INPUT_HW = (320, 448)
SQUARE = 448
CALIBRATION_IMAGES = 32


@dataclass(frozen=True)
class EdgeModels:
    """Paths of the benchmark's models; ``trained`` is False for the seeded untrained weights."""

    weights: Path
    package: Path
    square_fp32: Path
    square_int8: Path
    trained: bool


def bench_images(limit: int | None = None) -> tuple[list[Path], str]:
    """The real metal-tag image files (JPEG whatever their suffix), else generated ones; and a description."""
    files = (
        sorted(p for p in REAL_IMAGES.rglob("*") if p.is_file() and ".jpg" in p.name) if REAL_IMAGES.is_dir() else []
    )
    source = f"{len(files)} real metal-tag photos (450x300 JPEG)"
    if not files:
        from qiloop.synth import generate_dataset

        report = generate_dataset(WORK / "synth", n=limit or 200, seed=0, overwrite=True)
        files, source = sorted(report.paths), f"{len(report.paths)} generated qiloop.synth tags (450x300 JPEG)"
    return files[:limit] if limit else files, source


def calibration_images() -> list[bytes]:
    """The images every INT8 model of the benchmarks is calibrated on: ``CALIBRATION_IMAGES`` spread over the set."""
    files, _ = bench_images()
    step = max(1, len(files) // CALIBRATION_IMAGES)
    return [p.read_bytes() for p in files[::step][:CALIBRATION_IMAGES]]


def seeded_weights(path: Path, seed: int = 0, calibration_hw: tuple[int, int] = INPUT_HW) -> Path:
    """An untrained yolov8n (1 class) as ``.pt``, built the way ``tests/onnx_models.py`` builds its ONNX."""
    from qiloop.training import ultralytics_adapter as adapter

    yolo = adapter.ultralytics()
    import torch
    import ultralytics
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg/models/v8/yolov8.yaml").read_text())
    cfg["nc"] = 1
    spec = path.parent / "yolov8n.yaml"  # the name selects the n scale
    spec.write_text(yaml.safe_dump(cfg))
    torch.manual_seed(seed)
    model = yolo.YOLO(str(spec))
    net = model.model
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    generator = torch.Generator().manual_seed(seed)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(4, 3, *calibration_hw, generator=generator))
    net.eval()
    head = net.model[-1]
    with torch.no_grad():
        for box_branch, cls_branch in zip(head.cv2, head.cv3, strict=True):
            box_branch[-1].bias.normal_(0.0, 2.0, generator=generator)
            cls_branch[-1].weight.mul_(0.25)
            cls_branch[-1].bias.fill_(-1.5)
    net.names = {0: "scratch"}
    model.save(str(path))  # as training does: the checkpoint holds half-precision tensors
    return path


def _copy_metadata(source: Path, target: Path) -> None:
    """ultralytics reads stride, names and size from the ONNX metadata; the quantiser drops it."""
    import onnx

    meta = onnx.load(str(source), load_external_data=False).metadata_props
    model = onnx.load(str(target))
    del model.metadata_props[:]
    model.metadata_props.extend(meta)
    onnx.save(model, str(target))


def prepare(weights: Path | None = None, package: Path | None = None, *, work: Path = WORK) -> EdgeModels:
    """Build (or reuse from ``work``) the package and the square reference models for ``weights``."""
    from qiloop.core.package import write_manifest
    from qiloop.training import ultralytics_adapter as adapter
    from qiloop.training.graph_rewrite import rewrite_file
    from qiloop.training.quantize import quantize_int8

    if weights is None:
        folder = work / "seeded-0"
        weights = folder / "weights.pt"
        if not weights.is_file():
            seeded_weights(weights)
    else:
        folder = work / hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:12]
    done = folder / "done"
    calibration = calibration_images()
    own = folder / "package"
    square_fp32, square_int8 = folder / "square" / "model.onnx", folder / "square" / "model.int8.onnx"
    if not done.is_file():
        shutil.rmtree(own, ignore_errors=True)
        adapter.export_onnx(weights, own / "model.onnx", input_hw=INPUT_HW)
        rewrite_file(own / "model.onnx")  # as qiloop's export does; the reference models stay ultralytics' own
        quantize_int8(own / "model.onnx", own / "model.int8.onnx", calibration, input_hw=INPUT_HW)
        write_manifest(
            own, name="bench-detector", version="1", classes=["scratch"],
            input_height=INPUT_HW[0], input_width=INPUT_HW[1],
        )  # fmt: skip
        adapter.export_onnx(weights, square_fp32, input_hw=(SQUARE, SQUARE))
        quantize_int8(square_fp32, square_int8, calibration, input_hw=(SQUARE, SQUARE))
        _copy_metadata(square_fp32, square_int8)
        done.write_text(str(weights))
    return EdgeModels(
        weights=Path(weights),
        package=Path(package) if package else own,
        square_fp32=square_fp32,
        square_int8=square_int8,
        trained=folder.name != "seeded-0",
    )


def jpeg_bytes(paths: list[Path]) -> list[bytes]:
    """The files' bytes, checked to be images (the names do not say the format)."""
    from PIL import Image

    out = []
    for path in paths:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        out.append(data)
    return out
