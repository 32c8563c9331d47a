"""Use case: label-store snapshot → dataset → train → evaluate → gate → register.

A thin wrapper of :func:`qiloop.training.pipeline.run_training` (which does the
work and records the candidate's MLflow run) that refuses to start on too few
labels, can start from earlier weights (a new model from new labels, fine-tuned
from the last one), and returns the figures the CLI, the demo and the
orchestration print or attach as metadata.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class GateCheckFigure:
    """One check of the gate: its name, the figure it read, the bound, the verdict and its sentence."""

    name: str
    figure: float
    bound: float
    passed: bool
    detail: str


@dataclass(frozen=True)
class TrainedCandidate:
    """What one training run produced and what the gate made of it.

    ``version`` is the registered reference (``scratch-detector/4``) or None when the
    gate refused the candidate; ``weights`` are the trained network's ``.pt`` weights,
    from which a later run may start.
    """

    run_id: str
    passed: bool
    version: str | None
    approval: str | None
    label_store_version: int | None
    dataset: str  # the snapshot's fingerprint
    splits: dict[str, int]
    metrics: dict[str, float]  # on the test split, precision and recall at the operating point
    int8_metrics: dict[str, float]
    operating_confidence: dict[str, float]  # per class, chosen on the validation split
    champion: str | None
    champion_metrics: dict[str, float]  # the production model's on the same test images; empty without one
    checks: tuple[GateCheckFigure, ...]
    reasons: tuple[str, ...]
    epochs: int
    started_from: str
    weights: Path
    package: Path
    package_bytes: dict[str, int]  # fp32, int8 (0 without)
    parity: str  # the exported model against the trained one, in a sentence
    seconds: float

    @property
    def images(self) -> int:
        return sum(self.splits.values())

    def metadata(self) -> dict[str, float]:
        """The numeric figures, for a run's metadata (names as ``test/mAP50``, ``gate/passed``)."""
        figures: dict[str, float] = {f"test/{k}": v for k, v in self.metrics.items()}
        figures |= {f"champion/{k}": v for k, v in self.champion_metrics.items()}
        figures |= {f"split/{k}": float(v) for k, v in self.splits.items()}
        figures |= {f"bytes/{k}": float(v) for k, v in self.package_bytes.items()}
        figures |= {"gate/passed": float(self.passed), "epochs": float(self.epochs), "seconds": round(self.seconds, 1)}
        if self.label_store_version is not None:
            figures["label_store_version"] = float(self.label_store_version)
        return figures


def train_candidate(
    config,
    gate=None,
    *,
    images,
    labels,
    registry,
    workdir: str | Path,
    start_from: str | Path | None = None,
    min_images: int = 8,
    on_step: Callable[[str], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainedCandidate:
    """Train a candidate on the label store as it is now (or ``config.as_of``), gate it, register it if it passes.

    Args:
        config: A :class:`qiloop.training.config.TrainConfig`.
        gate: A :class:`qiloop.training.gate.GateConfig` (default ``config.gate``); with ``approval: auto`` a
            passing candidate is registered Approved (and becomes production), else pending approval.
        images, labels, registry: The image store, label store and model registry.
        workdir: A new or empty folder for the dataset, the run and the package.
        start_from: ``.pt`` weights to fine-tune instead of ``config.model`` (e.g. the last turn's).
        min_images: Refuse to start with fewer approved images.
        on_step, on_epoch: Progress callbacks (step names; each epoch's history row).

    Raises:
        ConfigurationError: Too few approved labels, or the configuration cannot be trained.
        MissingDependencyError: The ``train`` or ``registry`` extra is not installed.
    """
    from qiloop.training.pipeline import check_enough_data, run_training

    check_enough_data(labels, min_images)
    if start_from is not None:
        config = config.model_copy(update={"model": str(start_from)})
    started = time.perf_counter()
    result = run_training(
        config, gate, labels=labels, images=images, registry=registry, workdir=workdir,
        on_step=on_step, on_epoch=on_epoch,
    )  # fmt: skip
    return _candidate(result, config, time.perf_counter() - started)


def _candidate(result, config, seconds: float) -> TrainedCandidate:
    decision = result.decision
    metrics = _numbers(result.evaluation.summary())
    checks = tuple(GateCheckFigure(c.name, c.figure, c.bound, c.passed, c.detail) for c in decision.checks)
    champion: dict[str, float] = {}
    if decision.champion is not None:
        champion[decision.metric] = decision.champion
        recall = next((c.figure for c in checks if c.name == "regression_recall"), None)
        if recall is not None:  # the check's figure is the candidate's recall less the champion's
            champion["recall"] = metrics["recall"] - recall
    operating = _manifest(result.export.folder).get("operating_point", {}).get("classes", {})
    snapshot = result.dataset.snapshot
    return TrainedCandidate(
        run_id=result.run_id,
        passed=decision.passed,
        version=result.version.ref if result.version is not None else None,
        approval=getattr(decision.approval, "value", decision.approval),
        label_store_version=snapshot.label_store_version,
        dataset=snapshot.fingerprint,
        splits={k: len(v) for k, v in snapshot.splits.items()},
        metrics=metrics,
        int8_metrics=_numbers(result.int8_evaluation.summary()) if result.int8_evaluation else {},
        operating_confidence={k: float(v["confidence"]) for k, v in operating.items()},
        champion=decision.champion_ref,
        champion_metrics=champion,
        checks=checks,
        reasons=tuple(decision.reasons),
        epochs=config.epochs,
        started_from=config.model,
        weights=Path(result.train.best),
        package=Path(result.export.folder),
        package_bytes={"fp32": int(result.export.fp32_bytes), "int8": int(result.export.int8_bytes or 0)},
        parity=result.export.parity.summary(),
        seconds=seconds,
    )


def _manifest(folder: Path) -> dict:
    import json

    return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))


def _numbers(summary: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)}
