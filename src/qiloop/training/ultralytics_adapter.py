"""The one module that talks to ultralytics: train, predict, validate, export to ONNX.

ultralytics (and torch) are imported inside the functions, after the process is
made offline (``YOLO_OFFLINE=1``, no font or weight downloads, no telemetry,
no MLflow/ClearML/Comet/DVC callbacks) and its settings file is pointed away
from the user's home (``YOLO_CONFIG_DIR``).

Rectangular inputs. The images of a station share one size (450 x 300 for the
metal tags), so the model runs at :func:`~qiloop.training.shapes.input_hw`
(320 x 448 for imgsz 448) instead of a padded square. ultralytics validates
with rectangular batches at exactly that shape, and :func:`export_onnx` fixes
it in the ONNX graph. Training itself uses square mosaic batches by default
(``rect=False``); ``rect=True`` trains at the rectangle but ultralytics then
turns mosaic off. Measured on 200 synthetic images (yolov8n from scratch,
imgsz 320, batch 8, 20 epochs): mosaic reached validation mAP50 0.39 (test
0.30), rect 0.18 (test 0.19), at about half the time per epoch. Mosaic's
augmentation is worth more than the compute the rectangle saves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qiloop.core.detections import Detections
from qiloop.core.errors import ConfigurationError, NotFoundError, require
from qiloop.training import checkpoints
from qiloop.training.config import TrainConfig
from qiloop.training.history import EpochCallback, EpochTracker, TrainResult

INTEGRATIONS_OFF = dict(mlflow=False, clearml=False, comet=False, dvc=False, raytune=False, wandb=False, sync=False)
CONFIG_DIR = Path(tempfile.gettempdir()) / "qiloop-ultralytics"


def ultralytics(config_dir: Path | None = None):
    """The ``ultralytics`` module, imported offline with integrations off.

    Raises:
        MissingDependencyError: ultralytics is not installed (``pip install 'qiloop[train]'``).
    """
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir or CONFIG_DIR))
    Path(os.environ["YOLO_CONFIG_DIR"]).mkdir(parents=True, exist_ok=True)
    module = require("ultralytics", "train")
    from ultralytics.utils import SETTINGS

    if any(SETTINGS.get(k) != v for k, v in INTEGRATIONS_OFF.items()):
        SETTINGS.update(INTEGRATIONS_OFF)
    restore_pil_open()
    return module


def restore_pil_open() -> None:
    """Undo ultralytics' process-wide patch of ``PIL.Image.open``.

    The patch answers any unreadable image by installing a HEIF plugin from the
    network, so offline a damaged file raised ``ModuleNotFoundError`` instead
    of PIL's ``UnidentifiedImageError`` everywhere in the process (the image
    store's checks included).
    """
    from PIL import Image
    from ultralytics.utils import patches

    original = getattr(patches, "_image_open", None)
    if original is not None and Image.open is getattr(patches, "image_open", None):
        Image.open = original


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def quiet(enabled: bool = True) -> Iterator[None]:
    """Silence ultralytics' info lines and progress bars (warnings still show)."""
    logger = logging.getLogger("ultralytics")
    level = logger.level
    if enabled:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def train_args(config: TrainConfig, data_yaml: Path, run_dir: Path, device: str) -> dict[str, Any]:
    """The ultralytics ``train`` arguments for ``config`` (pure: no framework needed)."""
    return {
        "data": str(data_yaml),
        "epochs": config.epochs,
        "imgsz": config.imgsz,
        "batch": config.batch,
        "device": device,
        "seed": config.seed,
        "deterministic": True,
        "workers": config.workers,
        "patience": config.patience,  # 0: never stop early
        "optimizer": config.optimizer,
        "lr0": config.lr0,
        "nbs": config.nbs,
        "warmup_epochs": config.warmup_epochs,
        "cos_lr": config.cos_lr,
        "rect": config.rect,
        "amp": config.amp and device != "cpu",
        "project": str(run_dir.parent),
        "name": run_dir.name,
        "exist_ok": True,
        "plots": False,  # plots need a font download
        "verbose": False,
        **config.augment.model_dump(),
    }


def use_every_core(_trainer=None) -> int:
    """Give torch every core this process may use; returns the count.

    ultralytics sets torch to ``cpu_count - 1`` threads for CPU training, one on a
    2-core machine: measured there, an epoch took 42.9 s on one thread and 28.6 s on two.
    """
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, cores))
    return cores


def train(
    config: TrainConfig,
    data_yaml: str | Path,
    run_dir: str | Path,
    *,
    on_epoch: EpochCallback | None = None,
    quiet_logs: bool | None = None,
) -> TrainResult:
    """Train a detector on a YOLO dataset folder.

    Args:
        config: the training config (model, epochs, image size, augmentation, ...).
        data_yaml: the dataset's ``data.yaml`` (see :func:`qiloop.training.dataset.build_dataset`).
        run_dir: the run folder; created, and reused if it exists.
        on_epoch: called after each epoch's validation with that epoch's history row.
        quiet_logs: silence ultralytics' own lines; default: when ``on_epoch`` shows progress.
    """
    yolo = ultralytics()
    run_dir = Path(run_dir).resolve()
    start = checkpoints.resolve(config.model)
    if start.endswith(".pt") and not Path(start).is_file():
        raise NotFoundError(f"weights file {config.model} not found", hint="give --weights an existing .pt file")
    device = resolve_device(config.device)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / "train_config.yaml")
    history: list[dict[str, Any]] = []
    tracker = EpochTracker(history, on_epoch)
    try:
        model = yolo.YOLO(start)
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"model {config.model!r} is neither a file nor an architecture ultralytics knows",
            hint="use an architecture such as yolov8n.yaml or yolov8s.yaml, or --weights PATH.pt",
        ) from exc
    model.add_callback("on_train_epoch_end", tracker.epoch_ended)
    model.add_callback("on_fit_epoch_end", tracker.validated)
    if device == "cpu":
        model.add_callback("on_pretrain_routine_end", use_every_core)
    started = time.perf_counter()
    with quiet(on_epoch is not None if quiet_logs is None else quiet_logs):
        model.train(**train_args(config, Path(data_yaml).resolve(), run_dir, device))
    trainer = model.trainer
    args = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(trainer.args).items()}
    return TrainResult(
        run_dir=Path(trainer.save_dir),
        best=Path(trainer.best),
        last=Path(trainer.last),
        history=history,
        final=tracker.final,
        args=args,
        seconds=time.perf_counter() - started,
        device=device,
    )


def predict(
    weights: str | Path,
    images: Sequence[np.ndarray | str | Path],
    *,
    imgsz: int | tuple[int, int],
    conf: float = 0.25,
    iou: float = 0.45,
    max_det: int = 300,
    device: str = "cpu",
) -> list[Detections]:
    """Detections in original image pixels, one per image, from a ``.pt`` or an ``.onnx`` model.

    Arrays are ``HxWx3`` uint8 **RGB** (PIL's order); paths are read by ultralytics.
    ``imgsz`` is the input ``(height, width)``; an ONNX model needs its own fixed size.
    """
    yolo = ultralytics()
    model = yolo.YOLO(str(weights), task="detect")
    size = list(imgsz) if isinstance(imgsz, tuple | list) else imgsz
    out: list[Detections] = []
    with quiet():
        for image in images:
            source = np.ascontiguousarray(image[:, :, ::-1]) if isinstance(image, np.ndarray) else str(image)
            result = model.predict(
                source, imgsz=size, conf=conf, iou=iou, max_det=max_det, device=device, verbose=False, save=False
            )[0]
            boxes = result.boxes
            out.append(
                Detections(boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy().astype(int))
            )
    return out


def raw_outputs(weights: str | Path, tensors: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The torch model's raw head output ``(1, 4 + classes, anchors)`` for each input tensor.

    ``tensors`` are ``(1, 3, h, w)`` float32 model inputs, as the exported ONNX
    model takes them; the outputs are what the ONNX model must reproduce.
    """
    yolo = ultralytics()
    import torch

    model = yolo.YOLO(str(weights), task="detect").model.float().eval()
    out = []
    with torch.no_grad():
        for tensor in tensors:
            y = model(torch.from_numpy(np.ascontiguousarray(tensor, dtype=np.float32)))
            out.append((y[0] if isinstance(y, list | tuple) else y).cpu().numpy())
    return out


def val(
    weights: str | Path,
    data_yaml: str | Path,
    *,
    imgsz: int,
    split: str = "test",
    batch: int = 16,
    conf: float = 0.001,
    iou: float = 0.7,
    device: str = "cpu",
) -> dict[str, float]:
    """ultralytics' own validator on one split: ``precision``, ``recall``, ``mAP50``, ``mAP50-95``.

    Rectangular batches: the images run at :func:`~qiloop.training.shapes.input_hw`
    of their size, as the exported model does. A cross-check for qiloop's own metrics.
    """
    yolo = ultralytics()
    if split not in ("train", "val", "test"):
        raise ConfigurationError(f"unknown split {split!r}", hint="use train, val or test")
    model = yolo.YOLO(str(weights), task="detect")
    # ultralytics writes a runs/detect/val-N folder into the working directory otherwise.
    with quiet(), tempfile.TemporaryDirectory(prefix="qiloop-val-") as scratch:
        result = model.val(
            data=str(data_yaml), split=split, imgsz=imgsz, batch=batch, conf=conf, iou=iou, device=device,
            rect=True, plots=False, verbose=False, workers=0, project=scratch, name="val",
        )  # fmt: skip
    box = result.box
    return {"precision": float(box.mp), "recall": float(box.mr), "mAP50": float(box.map50), "mAP50-95": float(box.map)}


def export_onnx(
    weights: str | Path,
    out_path: str | Path,
    *,
    input_hw: tuple[int, int],
    opset: int | None = None,
    simplify: bool = True,
) -> Path:
    """Export ``.pt`` weights to an ONNX file with a fixed ``(1, 3, h, w)`` input (no dynamic axes).

    The output is ultralytics' raw head: ``(1, 4 + classes, anchors)`` with boxes as
    centre x, centre y, width, height in input pixels and per-class scores.
    """
    yolo = ultralytics()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qiloop-export-") as tmp:
        local = Path(tmp) / "model.pt"  # ultralytics writes beside the weights: keep the run folder clean
        shutil.copyfile(weights, local)
        with quiet():
            made = yolo.YOLO(str(local), task="detect").export(
                format="onnx", imgsz=list(input_hw), dynamic=False, simplify=simplify, opset=opset, device="cpu",
                batch=1, verbose=False,
            )  # fmt: skip
        shutil.move(str(made), out_path)
    return out_path
