"""Cross-validation grouped by photo: compare training settings on every labelled image, not on one split.

The groups (photos) are dealt into K folds (:func:`~qiloop.core.splits.fold_of`).
Round *i* tests on fold *i*, validates on a stable share of the other groups
and trains on the rest, so every image is tested exactly once and no photo's
crops are on both sides. Each round's best weights are scored by ultralytics'
validator on its test fold; the result is the mean ± sample standard deviation
over the rounds, with each round's figures kept beside it.

Nothing is registered: cross-validation chooses a recipe, the pipeline
(:func:`~qiloop.training.pipeline.run_training`) then trains the model.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qiloop.core.errors import ConfigurationError
from qiloop.core.splits import fold_assigner, fold_of
from qiloop.training import ultralytics_adapter as adapter
from qiloop.training.config import TrainConfig
from qiloop.training.copy_paste import paste_scratches
from qiloop.training.dataset import build_dataset

METRICS = ("mAP50", "mAP50-95", "precision", "recall")
SUMMARY_JSON = "crossval.json"
SUMMARY_PNG = "crossval.png"


@dataclass(frozen=True)
class FoldResult:
    """One round: its test fold's size and figures, and how long it trained."""

    fold: int
    images: dict[str, int]
    metrics: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class CrossValidation:
    """Every round and the mean ± standard deviation of each figure over them."""

    folds: int
    groups: int
    rounds: list[FoldResult] = field(default_factory=list)

    def mean(self, metric: str) -> float:
        return statistics.fmean(r.metrics[metric] for r in self.rounds)

    def std(self, metric: str) -> float:
        """Sample standard deviation (0 for a single round)."""
        values = [r.metrics[metric] for r in self.rounds]
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def summary(self) -> dict[str, dict[str, float]]:
        return {m: {"mean": self.mean(m), "std": self.std(m)} for m in METRICS if self.rounds}

    def to_json(self) -> dict:
        return {
            "folds": self.folds,
            "groups": self.groups,
            "summary": self.summary(),
            "rounds": [asdict(r) for r in self.rounds],
        }


def cross_validate(
    config: TrainConfig,
    *,
    labels,
    images,
    workdir: str | Path,
    folds: int = 5,
    only: Sequence[int] | None = None,
    on_fold: Callable[[int, str], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> CrossValidation:
    """Train and test ``config`` once per fold and return the figures.

    Args:
        config: the recipe to measure (its ``ratios`` are ignored: folds decide the splits).
        labels: the label store (approved labels as of ``config.as_of``).
        images: the image store.
        workdir: a folder for each round's dataset and training run, and the summary.
        folds: K, at least 2.
        only: run only these rounds (0-based), e.g. to screen on two folds first.
        on_fold: told ``(fold, step)`` as each round starts a step (``dataset``, ``train``, ``test``).
        on_epoch: called with each epoch's history row.

    Raises:
        ConfigurationError: fewer groups than folds, or a round index out of range.
    """
    work = Path(workdir)
    snapshot = labels.snapshot(as_of=config.as_of)
    records = labels.records(snapshot.record_ids, version=snapshot.label_store_version)
    groups = {images.get(r.image_sha256).group for r in records}
    assignment = fold_of(groups, folds)
    rounds = list(range(folds)) if only is None else list(only)
    bad = [i for i in rounds if not 0 <= i < folds]
    if bad:
        raise ConfigurationError(f"rounds {bad} are outside 0..{folds - 1}", hint=f"choose rounds below {folds}")
    tell = on_fold or (lambda _fold, _step: None)
    result = CrossValidation(folds=folds, groups=len(groups))
    fixed = config.model_copy(update={"as_of": snapshot.label_store_version})
    for fold in rounds:
        tell(fold, "dataset")
        dataset = build_dataset(
            labels,
            images,
            work / f"fold-{fold}" / "dataset",
            as_of=snapshot.label_store_version,
            classes=config.classes,
            assign=fold_assigner(assignment, fold),
        )
        paste_scratches(dataset.root, config)
        tell(fold, "train")
        started = time.perf_counter()
        trained = adapter.train(fixed, dataset.data_yaml, work / f"fold-{fold}" / "train", on_epoch=on_epoch)
        tell(fold, "test")
        scores = adapter.val(trained.best, dataset.data_yaml, imgsz=config.imgsz, split="test", device=trained.device)
        sizes = {split: len(ids) for split, ids in dataset.snapshot.splits.items()}
        result.rounds.append(FoldResult(fold, sizes, scores, time.perf_counter() - started))
        save(result, work)
    return result


def save(result: CrossValidation, folder: str | Path) -> Path:
    """Write the summary JSON and its picture (each round's figures and the mean ± std)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SUMMARY_JSON
    path.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    if result.rounds:
        _plot(result, folder / SUMMARY_PNG)
    return path


def _plot(result: CrossValidation, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    width = 0.8 / len(METRICS)
    for index, metric in enumerate(METRICS):
        xs = [r.fold + index * width for r in result.rounds]
        label = f"{metric} {result.mean(metric):.3f} ± {result.std(metric):.3f}"
        axes.bar(xs, [r.metrics[metric] for r in result.rounds], width, label=label)
    axes.set_xticks([r.fold + 0.4 - width / 2 for r in result.rounds], [f"fold {r.fold}" for r in result.rounds])
    axes.set_ylim(0, 1)
    axes.set_ylabel("test split")
    axes.set_title(f"{result.folds}-fold cross-validation grouped by photo ({result.groups} groups)")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
