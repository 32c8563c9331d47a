"""Real YOLOv8 ONNX model packages for tests, built without training or downloads.

``yolov8n`` is built from its yaml with a fixed seed; its batch-norm
statistics are calibrated on random images (so activations keep their scale
instead of vanishing), and the head's biases are spread so scores and box
sizes vary like a model's do. The network is real and the export is
ultralytics' own, so every shape, layout and operator is what training makes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


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
    """A model package folder (``model.onnx``, optional ``model.int8.onnx``, ``manifest.json``)."""
    from qiloop.core.package import write_manifest

    work = folder.parent / f"{folder.name}-build"
    onnx_path = build_yolo_onnx(work, input_size, classes=len(classes), seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(onnx_path.read_bytes())
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(folder / "model.onnx"), str(folder / "model.int8.onnx"), weight_type=QuantType.QUInt8)
    write_manifest(
        folder,
        name="test-detector",
        version="1",
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
