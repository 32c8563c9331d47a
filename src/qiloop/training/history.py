"""A training run's outcome and its per-epoch history, in plain Python.

:class:`EpochTracker` turns the trainer's epoch callbacks into history rows
with stable names (``mAP50``, ``train/box_loss``...), so nothing downstream
depends on the framework's metric keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EpochCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainResult:
    """What a training run left behind.

    Attributes:
        run_dir: the run folder (weights/, args.yaml, results.csv, train_config.yaml).
        best: weights of the epoch with the best validation fitness.
        last: weights after the last epoch.
        history: one dict per epoch: ``epoch``, train and val losses, ``precision``,
            ``recall``, ``mAP50``, ``mAP50-95``, ``lr``, ``seconds``.
        final: the best weights' validation metrics (same keys, no losses).
        args: the fully resolved ultralytics arguments (also in ``run_dir/args.yaml``).
    """

    run_dir: Path
    best: Path
    last: Path
    history: list[dict[str, Any]]
    final: dict[str, float]
    args: dict[str, Any]
    seconds: float
    device: str = "cpu"


class EpochTracker:
    """Turns ultralytics' epoch callbacks into history rows.

    ``on_fit_epoch_end`` also fires once after training for the final validation
    of the best weights; only the calls that follow an ``on_train_epoch_end`` are epochs.
    """

    def __init__(self, history: list[dict[str, Any]], on_epoch: EpochCallback | None) -> None:
        self.history, self.on_epoch = history, on_epoch
        self.pending, self.final = False, {}
        self.started = time.perf_counter()

    def epoch_ended(self, trainer) -> None:
        self.pending = True

    def validated(self, trainer) -> None:
        metrics = _metrics(trainer.metrics or {})
        if not self.pending:
            self.final = metrics
            return
        self.pending = False
        now = time.perf_counter()
        losses = {k: float(v) for k, v in trainer.label_loss_items(trainer.tloss).items()}  # train/box_loss...
        row = {"epoch": trainer.epoch + 1, "epochs": trainer.epochs, **losses, **metrics}
        row["lr"] = float(next(iter(trainer.lr.values()))) if trainer.lr else None
        row["seconds"] = round(now - self.started, 3)
        self.started = now
        self.history.append(row)
        if self.on_epoch is not None:
            self.on_epoch(row)


def _metrics(raw: dict[str, Any]) -> dict[str, float]:
    names = {
        "metrics/precision(B)": "precision",
        "metrics/recall(B)": "recall",
        "metrics/mAP50(B)": "mAP50",
        "metrics/mAP50-95(B)": "mAP50-95",
    }
    return {names.get(k, k): float(v) for k, v in raw.items() if k != "fitness"}
