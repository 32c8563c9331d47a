"""A detector pretrained on qiloop's own synthetic tags, to start real training from.

Training from an architecture file starts from random weights: on two CPU cores
a short run then finds nothing. :func:`pretrain` renders synthetic metal tags
with the generator the demo uses (its own seeds, never the demo's), trains on
them, and writes the best weights with a record of how they were made (seed,
data, recipe, figures, sha256) beside them, so anyone can rebuild and check it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiloop.training.config import TrainConfig

CHECKPOINT = "synthetic-yolov8n.pt"
RECORD = "synthetic-yolov8n.json"
# The recipe, a saved call: what `qiloop pretrain` runs unless told otherwise.
RECIPE: dict[str, Any] = {
    "images": 1000,
    "seed": 7000,
    "config": {
        "model": "yolov8n.yaml",
        "epochs": 20,
        "imgsz": 320,
        "batch": 8,
        "nbs": 8,
        "cos_lr": True,
        "warmup_epochs": 1.0,
        "patience": 0,
        "workers": 0,
        "augment": {"close_mosaic": 3, "flipud": 0.5},
    },
}


@dataclass(frozen=True)
class PretrainResult:
    checkpoint: Path
    record: dict[str, Any]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pretrain(
    out: str | Path,
    *,
    images: int = RECIPE["images"],
    seed: int = RECIPE["seed"],
    overrides: list[str] | None = None,
    workdir: str | Path | None = None,
    on_epoch=None,
) -> PretrainResult:
    """Render ``images`` synthetic tags from ``seed``, train on them, write the checkpoint and its record.

    Args:
        out: the folder for ``synthetic-yolov8n.pt`` and ``synthetic-yolov8n.json``.
        images: how many synthetic images to train and validate on.
        seed: the generator's seed (the demo uses others).
        overrides: ``key=value`` changes to the recipe's training config.
        workdir: where the data and the run go (default: a temporary folder, removed after).
        on_epoch: called with each epoch's history row.
    """
    from qiloop.labelstore import LabelStore
    from qiloop.labelstore.formats import labels_csv
    from qiloop.labelstore.importer import import_parsed
    from qiloop.settings import load_settings
    from qiloop.storage import ImageStore
    from qiloop.synth import generate_dataset
    from qiloop.training import ultralytics_adapter as adapter
    from qiloop.training.dataset import build_dataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = TrainConfig.from_overrides(TrainConfig.build(RECIPE["config"], source="pretrain recipe"), overrides or [])
    with tempfile.TemporaryDirectory(prefix="qiloop-pretrain-") as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        settings = load_settings(home=work / "home")
        store, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
        report = generate_dataset(work / "synth", images, seed=seed, overwrite=True)
        import_parsed(labels_csv.read(report.labels_csv), store, labels, images_root=work / "synth")
        dataset = build_dataset(
            labels, store, work / "dataset", ratios={"train": 0.85, "val": 0.15}, classes=config.classes
        )
        trained = adapter.train(config, dataset.data_yaml, work / "train", on_epoch=on_epoch)
        checkpoint = out / CHECKPOINT
        shutil.copyfile(trained.best, checkpoint)
    record = {
        "checkpoint": CHECKPOINT,
        "sha256": _sha256(checkpoint),
        "bytes": checkpoint.stat().st_size,
        "data": {"generator": "qiloop.synth.generate_dataset", "images": images, "seed": seed},
        "config": config.model_dump(mode="json", exclude={"export", "gate", "as_of"}),
        "final": trained.final,
        "seconds": round(trained.seconds, 1),
        "device": trained.device,
        "built_by": f"qiloop pretrain --images {images} --seed {seed}" + "".join(f" {o}" for o in overrides or []),
    }
    (out / RECORD).write_text(json.dumps(record, indent=2, default=str))
    return PretrainResult(checkpoint, record)
