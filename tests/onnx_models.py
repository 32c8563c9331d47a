"""Real YOLOv8 ONNX model packages for tests, built without training or downloads.

``yolov8n`` is built from its yaml with a fixed seed; its batch-norm
statistics are calibrated on random images (so activations keep their scale
instead of vanishing), and the head's biases are spread so scores and box
sizes vary like a model's do. The network is real and the export is
ultralytics' own, so every shape, layout and operator is what training makes.

An export takes tens of seconds, so each one is kept under ``.pytest_cache/qiloop-models``,
keyed by this file's text and the torch and ultralytics versions: a later run (or another
test asking for the same model) copies it. Tests that need no ultralytics-exported model
use the tiny graph of ``tiny_models.py`` instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "qiloop-models"


def cache_key(input_size: tuple[int, int], classes: int, seed: int) -> str:
    """What an export depends on: this file, torch, ultralytics and the arguments."""
    parts = [Path(__file__).read_bytes(), version("torch").encode(), version("ultralytics").encode()]
    parts.append(f"{input_size[0]}x{input_size[1]}-c{classes}-s{seed}".encode())
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:20]


def cached_yolo_onnx(input_size: tuple[int, int], *, classes: int = 1, seed: int = 0, int8: bool = False) -> Path:
    """The exported (and, with ``int8``, quantised) model from the cache, exporting it on a miss."""
    fp32 = CACHE / f"{cache_key(input_size, classes, seed)}.onnx"
    if not fp32.is_file():
        with tempfile.TemporaryDirectory(prefix="export-") as work:
            exported = build_yolo_onnx(Path(work), input_size, classes=classes, seed=seed)
            CACHE.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(exported, f"{fp32}.part")
            os.replace(f"{fp32}.part", fp32)  # whole or absent, even if the run is killed
    quantised = fp32.with_suffix(".int8.onnx")
    if int8 and not quantised.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        part = quantised.with_name(f"part-{quantised.name}")
        quantize_dynamic(str(fp32), str(part), weight_type=QuantType.QUInt8)
        os.replace(part, quantised)
    return quantised if int8 else fp32


def _offline() -> None:
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-config-"))
    os.environ.setdefault("MPLBACKEND", "Agg")


def build_yolo_onnx(folder: Path, input_size: tuple[int, int], *, classes: int = 1, seed: int = 0) -> Path:
    """Export a seeded ``yolov8n`` with ``classes`` classes at ``input_size`` (h, w); the ONNX path."""
    _offline()
    import torch
    import yaml

    from qiloop.training.ultralytics_adapter import ultralytics as load_ultralytics

    ultralytics = load_ultralytics()  # offline, and with PIL.Image.open left as PIL made it
    YOLO = ultralytics.YOLO

    folder.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg/models/v8/yolov8.yaml").read_text())
    cfg["nc"] = classes
    (folder / "yolov8n.yaml").write_text(yaml.safe_dump(cfg))  # the name selects the n scale
    torch.manual_seed(seed)
    model = YOLO(str(folder / "yolov8n.yaml"))
    net = model.model
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    generator = torch.Generator().manual_seed(seed)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(4, 3, *input_size, generator=generator))
    net.eval()
    head = net.model[-1]
    with torch.no_grad():
        for box_branch, cls_branch in zip(head.cv2, head.cv3, strict=True):
            box_branch[-1].bias.normal_(0.0, 2.0, generator=generator)
            cls_branch[-1].weight.mul_(0.25)  # no saturated (tied) scores
            cls_branch[-1].bias.fill_(-1.5)
    here = Path.cwd()
    os.chdir(folder)  # ultralytics writes a yaml-built model's export into the working directory
    try:
        exported = model.export(format="onnx", imgsz=input_size, simplify=False, dynamic=False, verbose=False)
    finally:
        os.chdir(here)
    return folder / Path(exported).name


def build_package(
    folder: Path,
    input_size: tuple[int, int],
    *,
    classes: tuple[str, ...] = ("scratch",),
    seed: int = 0,
    int8: bool = False,
    **manifest,
) -> Path:
    """A model package folder (``model.onnx``, optional ``model.int8.onnx``, ``manifest.json``) from the cache."""
    from qiloop.core.package import write_manifest

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached_yolo_onnx(input_size, classes=len(classes), seed=seed), folder / "model.onnx")
    if int8:
        quantised = cached_yolo_onnx(input_size, classes=len(classes), seed=seed, int8=True)
        shutil.copyfile(quantised, folder / "model.int8.onnx")
    manifest.setdefault("name", "test-detector")
    manifest.setdefault("version", "1")
    write_manifest(
        folder,
        classes=list(classes),
        input_height=input_size[0],
        input_width=input_size[1],
        **manifest,
    )
    return folder


def random_photo(seed: int, size: tuple[int, int] = (300, 450)) -> np.ndarray:
    """An ``HxWx3`` uint8 RGB image with smooth structure (blobs and lines), not white noise."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.float64) + rng.uniform(60, 180, 3)
    for _ in range(8):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(5, max(h, w) / 4)
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None] * rng.uniform(-80, 80, 3)
    img += rng.normal(0, 6, img.shape)
    return img.clip(0, 255).astype(np.uint8)
