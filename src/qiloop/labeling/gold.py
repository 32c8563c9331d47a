"""Gold checks: how well each worker labels images whose boxes are known.

A worker's score on one gold image is the F1 at IoU 0.5 of their boxes against
the gold boxes (precision and recall at once: missed scratches and invented
ones both cost). Their reliability is the mean of their recent gold scores,
shrunk towards a prior so that a worker with one lucky or unlucky gold image
is neither trusted nor distrusted much (a Beta-style pseudo-count):

    reliability = (prior.mean · prior.strength + Σ recent scores) / (prior.strength + n)

Reliability is the weight consolidation gives the worker's boxes, and a worker
with at least ``min_items`` gold images whose reliability is under the
threshold is flagged to admins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box
from qiloop.labeling.overlap import match_pairs


@dataclass(frozen=True)
class GoldScore:
    """One worker's boxes against one gold image's boxes."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def f1(self) -> float:
        """2·TP / (2·TP + FP + FN); an empty image left empty scores 1.0."""
        denominator = 2 * self.true_positives + self.false_positives + self.false_negatives
        return 1.0 if denominator == 0 else 2 * self.true_positives / denominator


@dataclass(frozen=True)
class ReliabilityPrior:
    """What a worker without gold history is assumed to score, and how many gold images that belief is worth."""

    mean: float = 0.7
    strength: float = 3.0

    def __post_init__(self) -> None:
        if not (0 <= self.mean <= 1 and self.strength >= 0):
            raise ConfigurationError(
                f"invalid reliability prior {self}", hint="mean must lie in [0, 1] and strength be >= 0"
            )


@dataclass(frozen=True)
class WorkerAccuracy:
    """A worker's gold record: how many gold images, their mean F1, the reliability weight, the flag."""

    worker: str
    gold_items: int
    mean_f1: float | None
    reliability: float
    flagged: bool


def score_against_gold(worker_boxes: Sequence[Box], gold_boxes: Sequence[Box], iou_threshold: float = 0.5) -> GoldScore:
    """Count matches (same class, IoU ≥ ``iou_threshold``, one-to-one) of a worker's boxes with gold boxes.

    Example:
        >>> gold = [Box(class_id=0, left=0, top=0, width=10, height=10)]
        >>> score_against_gold(gold + gold, gold).f1
        0.6666666666666666
    """
    matches = len(match_pairs(worker_boxes, gold_boxes, iou_threshold))
    return GoldScore(matches, len(worker_boxes) - matches, len(gold_boxes) - matches)


def reliability(scores: Sequence[float], prior: ReliabilityPrior = ReliabilityPrior()) -> float:
    """A worker's reliability from their gold F1 scores (oldest first), shrunk towards ``prior``."""
    if not scores:  # the prior alone (also avoids 0/0 for a vanishing prior strength)
        return prior.mean
    return (prior.mean * prior.strength + float(sum(scores))) / (prior.strength + len(scores))


def worker_accuracy(
    scores: Iterable[tuple[str, float]],
    *,
    workers: Iterable[str] = (),
    prior: ReliabilityPrior = ReliabilityPrior(),
    threshold: float = 0.6,
    min_items: int = 3,
    window: int | None = 50,
) -> dict[str, WorkerAccuracy]:
    """Every worker's gold record from ``(worker, f1)`` pairs in time order.

    Args:
        scores: Gold F1 scores, oldest first.
        workers: Workers to report even without gold scores (they get the prior).
        prior: The belief about a worker without history.
        threshold: Workers under this reliability are flagged...
        min_items: ...once they have at least this many gold images.
        window: Only a worker's last ``window`` gold scores count (``None``: all), so
            reliability follows a worker who gets better or worse.
    """
    history: dict[str, list[float]] = {w: [] for w in workers}
    for worker, f1 in scores:
        history.setdefault(worker, []).append(float(f1))
    out: dict[str, WorkerAccuracy] = {}
    for worker, all_scores in history.items():
        recent = all_scores[-window:] if window else all_scores
        weight = reliability(recent, prior)
        mean = sum(recent) / len(recent) if recent else None
        flagged = len(all_scores) >= min_items and weight < threshold
        out[worker] = WorkerAccuracy(worker, len(all_scores), mean, weight, flagged)
    return out
