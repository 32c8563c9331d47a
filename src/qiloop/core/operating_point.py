"""The operating point of a detector: per class, the confidence that maximises F1.

A model's mAP summarises its whole ranking, but a device acts on one threshold:
a box counts as a defect when it scores at least that. :func:`f1_optimal`
picks, per class, the threshold that gives the best F1 at IoU 0.5 on a set of
labelled images (the validation split, never the test split the gate reads),
and reports the precision and recall it gives there.

The threshold sits halfway between the lowest score it keeps and the highest
score it drops, so a score a little off on new images falls on the same side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from qiloop.core.matching import as_detections, match

IOU = 0.5


@dataclass(frozen=True)
class ClassOperatingPoint:
    """One class at its chosen confidence: counts and figures at IoU 0.5."""

    class_id: int
    confidence: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    @property
    def ground_truth(self) -> int:
        return self.tp + self.fn

    def to_dict(self) -> dict:
        return asdict(self)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


def _best_cut(scores: np.ndarray, hits: np.ndarray, n_truth: int) -> tuple[int, float]:
    """How many of the (descending) predictions to keep for the best F1, ties to fewer; and that F1."""
    tp = np.cumsum(hits)
    fp = np.cumsum(~hits)
    f1 = 2 * tp / np.maximum(tp + fp + n_truth, 1)
    # Only cut between distinct scores: a threshold keeps all predictions of equal score or none.
    last_of_score = np.append(scores[1:] < scores[:-1], True)
    f1 = np.where(last_of_score, f1, -1.0)
    best = int(np.argmax(f1))  # the first maximum: the highest threshold among equals
    return best + 1, float(f1[best])


def f1_optimal(
    ground_truth: Sequence,
    predictions: Sequence,
    *,
    num_classes: int = 1,
    default: float = 0.25,
    min_confidence: float = 0.01,
) -> dict[int, ClassOperatingPoint]:
    """Per class, the confidence with the best F1 over these images, and its precision and recall.

    Args:
        ground_truth: Per image, the true boxes (``Detections``, a ``LabelRecord`` or ``Box`` list).
        predictions: Per image, every prediction down to a low floor (0.001), as for mAP.
        num_classes: Classes the model predicts; each gets a point even when no image holds it.
        default: The confidence of a class that the model never finds (its recall is 0 there).
        min_confidence: The lowest confidence chosen, however low the best F1 lies.

    Example:
        Two true boxes; predictions 0.9 (hit), 0.6 (miss), 0.4 (hit): keeping all three
        gives F1 = 2·2/(3+2) = 0.8, better than 0.9 alone (2/3), so the threshold is
        halfway between 0.4 and the next score below it (none: half of 0.4).
    """
    if len(ground_truth) != len(predictions):
        raise ValueError(f"{len(ground_truth)} ground-truth images but {len(predictions)} prediction sets")
    scores, hits, classes, truth_classes = [], [], [], []
    for truth_item, pred_item in zip(ground_truth, predictions, strict=True):
        truth, pred = as_detections(truth_item), as_detections(pred_item)
        hits.append(match(truth, pred, np.array([IOU]))[:, 0])
        scores.append(pred.scores)
        classes.append(pred.class_ids)
        truth_classes.append(truth.class_ids)
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    all_hits = np.concatenate(hits) if hits else np.zeros(0, dtype=bool)
    all_classes = np.concatenate(classes) if classes else np.zeros(0, dtype=np.int64)
    all_truth = np.concatenate(truth_classes) if truth_classes else np.zeros(0, dtype=np.int64)
    wanted = set(range(num_classes)) | set(all_truth.tolist()) | set(all_classes.tolist())
    points: dict[int, ClassOperatingPoint] = {}
    for c in sorted(int(c) for c in wanted):
        n_truth = int((all_truth == c).sum())
        mine = all_classes == c
        order = np.argsort(-all_scores[mine], kind="stable")
        s, h = all_scores[mine][order], all_hits[mine][order]
        if not h.any():
            points[c] = ClassOperatingPoint(c, default, 0.0, 0.0, 0.0, 0, int((s >= default).sum()), n_truth)
            continue
        keep, _ = _best_cut(s, h, n_truth)
        below = float(s[keep]) if keep < len(s) else 0.0
        confidence = max(min_confidence, (float(s[keep - 1]) + below) / 2)
        kept = s >= confidence
        tp, fp = int(h[kept].sum()), int((~h[kept]).sum())
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, n_truth)
        f1 = _ratio(2 * precision * recall, precision + recall)
        points[c] = ClassOperatingPoint(c, round(confidence, 6), precision, recall, f1, tp, fp, n_truth - tp)
    return points
