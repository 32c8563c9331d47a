"""Detection metrics in NumPy: mAP@0.5, mAP@0.5:0.95, precision, recall, F1.

The definitions follow ultralytics' validator so that figures are comparable
with what its training logs print:

* **Matching** (:mod:`qiloop.core.matching`), per image and IoU threshold:
  greedy by descending score, COCO-style, as ``DetectionValidator.match_predictions``.
* **AP** per class: COCO's 101-point interpolation (as ``pycocotools``): the
  precision envelope of the cumulative precision-recall curve read at 101
  recall points, averaged. ultralytics integrates the same envelope with the
  trapezoid rule and so scores a perfect model 0.995; on realistic sets the
  two agree to a few thousandths (a test holds them within 0.01).
* **mAP** is the mean over the classes present in the ground truth;
  predictions of classes absent from the ground truth do not move it (they
  still count as false positives in the totals).
* **Operating point**: exact counts for the predictions scoring at least
  ``confidence``, matched at IoU 0.5; precision and recall are class means.
* **F1-optimal confidence**: precision and recall interpolated on a
  1,000-point confidence grid, the class-mean F1 smoothed by a box filter
  over 10 % of the grid, and its arg-max (as ultralytics reports P and R).

When nothing is to be found (no ground truth) every mean is reported as 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qiloop.core.detections import passes
from qiloop.core.matching import IOU_THRESHOLDS, as_detections, match
from qiloop.core.metrics_types import ClassMetrics, DetectionMetrics, ImageCounts

__all__ = [
    "IOU_THRESHOLDS",
    "ClassMetrics",
    "DetectionMetrics",
    "ImageCounts",
    "average_precision",
    "evaluate_detections",
    "match",
]

RECALL_POINTS = np.linspace(0.0, 1.0, 101)
CONFIDENCE_GRID = np.linspace(0.0, 1.0, 1000)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> tuple[float, np.ndarray]:
    """COCO's 101-point AP of one cumulative PR curve, and the envelope at :data:`RECALL_POINTS`.

    At each recall point ``r`` the precision is the best precision reached at
    any recall >= ``r`` (0 when ``r`` is never reached); AP is their mean.

    Example:
        >>> average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0]))[0]
        1.0
    """
    envelope = np.flip(np.maximum.accumulate(np.flip(np.asarray(precision, dtype=np.float64))))
    at = np.searchsorted(np.asarray(recall, dtype=np.float64), RECALL_POINTS, side="left")
    reached = at < len(envelope)
    sampled = np.zeros(len(RECALL_POINTS))
    sampled[reached] = envelope[at[reached]]
    return float(sampled.mean()), sampled


def _smooth(y: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    width = round(len(y) * fraction * 2) // 2 + 1
    pad = np.ones(width // 2)
    return np.convolve(np.concatenate((pad * y[0], y, pad * y[-1])), np.ones(width) / width, mode="valid")


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


@dataclass
class _Pool:
    """Every prediction of the set, flattened: match flags, score, class; and the true classes."""

    tp: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    classes: list[np.ndarray] = field(default_factory=list)
    truth_classes: list[np.ndarray] = field(default_factory=list)

    def arrays(self, n_thresholds: int):
        """The predictions sorted by descending score (stable), and the true classes."""
        tp = np.concatenate(self.tp) if self.tp else np.zeros((0, n_thresholds), dtype=bool)
        scores = np.concatenate(self.scores) if self.scores else np.zeros(0)
        classes = np.concatenate(self.classes) if self.classes else np.zeros(0, dtype=np.int64)
        truth = np.concatenate(self.truth_classes) if self.truth_classes else np.zeros(0, dtype=np.int64)
        order = np.argsort(-scores, kind="stable")
        return tp[order], scores[order], classes[order], truth


def evaluate_detections(
    ground_truth: Sequence,
    predictions: Sequence,
    *,
    iou_thresholds: Sequence[float] | np.ndarray = IOU_THRESHOLDS,
    confidence: float | Mapping[int, float] = 0.25,
) -> DetectionMetrics:
    """Score predictions against ground truth over a set of images.

    Args:
        ground_truth: Per image, the true boxes (``Detections``, a ``LabelRecord`` or ``Box`` list).
        predictions: Per image, the model's ``Detections`` (all of them; give a low
            confidence floor such as 0.001 for a faithful mAP).
        iou_thresholds: IoU thresholds; the first is the one of mAP50 and the
            operating point (0.5 by default).
        confidence: The operating confidence for precision, recall, F1 and counts: one
            number, or one per class id (a package's operating point).

    Raises:
        ValueError: The two sequences differ in length, or the thresholds are not in (0, 1].
    """
    if len(ground_truth) != len(predictions):
        raise ValueError(f"{len(ground_truth)} ground-truth images but {len(predictions)} prediction sets")
    thresholds = np.asarray(iou_thresholds, dtype=np.float64).reshape(-1)
    if len(thresholds) == 0 or thresholds.min() <= 0 or thresholds.max() > 1:
        raise ValueError(f"IoU thresholds must be a non-empty list in (0, 1], got {thresholds.tolist()}")
    pool, images = _Pool(), []
    for truth_item, pred_item in zip(ground_truth, predictions, strict=True):
        truth, pred = as_detections(truth_item), as_detections(pred_item)
        tp = match(truth, pred, thresholds)
        pool.tp.append(tp)
        pool.scores.append(pred.scores)
        pool.classes.append(pred.class_ids)
        pool.truth_classes.append(truth.class_ids)
        kept = passes(pred.scores, pred.class_ids, confidence)
        hits = int(tp[kept, 0].sum())
        images.append(ImageCounts(tp=hits, fp=int(kept.sum()) - hits, fn=len(truth) - hits))
    tp, scores, classes, truth_classes = pool.arrays(len(thresholds))
    return _summarise(tp, scores, classes, truth_classes, thresholds, confidence, images)


def _curves(tp, scores, classes, gt_classes, n_truth):
    """Per ground-truth class: AP at each threshold, the PR envelope, P and R against confidence."""
    n = len(gt_classes)
    ap = np.zeros((n, tp.shape[1]))
    envelopes = np.zeros((n, len(RECALL_POINTS)))
    p_curve, r_curve = np.zeros((n, len(CONFIDENCE_GRID))), np.zeros((n, len(CONFIDENCE_GRID)))
    for ci, (c, n_l) in enumerate(zip(gt_classes.tolist(), n_truth.tolist(), strict=True)):
        mine = classes == c
        if not mine.any():
            continue
        tpc = np.cumsum(tp[mine], 0)
        fpc = np.cumsum(~tp[mine], 0)
        recall, precision = tpc / n_l, tpc / (tpc + fpc)
        r_curve[ci] = np.interp(-CONFIDENCE_GRID, -scores[mine], recall[:, 0], left=0)
        p_curve[ci] = np.interp(-CONFIDENCE_GRID, -scores[mine], precision[:, 0], left=1)
        for j in range(tp.shape[1]):
            ap[ci, j], sampled = average_precision(recall[:, j], precision[:, j])
            if j == 0:
                envelopes[ci] = sampled
    return ap, envelopes, p_curve, r_curve


def _per_class(tp, scores, classes, gt_classes, n_truth, ap, confidence) -> dict[int, ClassMetrics]:
    """Exact counts at the operating confidence, for every class seen in truth or predictions."""
    kept = passes(scores, classes, confidence)
    out: dict[int, ClassMetrics] = {}
    for c in sorted(set(gt_classes.tolist()) | set(classes.tolist())):
        row = np.flatnonzero(gt_classes == c)
        n_l = int(n_truth[row[0]]) if len(row) else 0
        mine = kept & (classes == c)
        hits, shown = int(tp[mine, 0].sum()), int(mine.sum())
        precision, recall = _ratio(hits, shown), _ratio(hits, n_l)
        out[int(c)] = ClassMetrics(
            class_id=int(c),
            ground_truth=n_l,
            predictions=int((classes == c).sum()),
            ap50=float(ap[row[0], 0]) if len(row) else 0.0,
            ap50_95=float(ap[row[0]].mean()) if len(row) else 0.0,
            precision=precision,
            recall=recall,
            f1=_ratio(2 * precision * recall, precision + recall),
            tp=hits,
            fp=shown - hits,
            fn=n_l - hits,
        )
    return out


def _summarise(tp, scores, classes, truth_classes, thresholds, confidence, images) -> DetectionMetrics:
    gt_classes, n_truth = np.unique(truth_classes, return_counts=True)
    n = len(gt_classes)
    ap, envelopes, p_curve, r_curve = _curves(tp, scores, classes, gt_classes, n_truth)
    f1_curve = 2 * p_curve * r_curve / np.maximum(p_curve + r_curve, 1e-16)
    best = int(_smooth(f1_curve.mean(0)).argmax()) if n else 0
    per_class = _per_class(tp, scores, classes, gt_classes, n_truth, ap, confidence)
    scored = [per_class[int(c)] for c in gt_classes]
    return DetectionMetrics(
        map50=float(ap[:, 0].mean()) if n else 0.0,
        map50_95=float(ap.mean()) if n else 0.0,
        confidence=float(min(confidence.values(), default=0.0) if isinstance(confidence, Mapping) else confidence),
        precision=_mean([m.precision for m in scored]),
        recall=_mean([m.recall for m in scored]),
        f1=_mean([m.f1 for m in scored]),
        tp=sum(m.tp for m in per_class.values()),
        fp=sum(m.fp for m in per_class.values()),
        fn=sum(m.fn for m in per_class.values()),
        best_confidence=float(CONFIDENCE_GRID[best]),
        best_precision=float(p_curve[:, best].mean()) if n else 0.0,
        best_recall=float(r_curve[:, best].mean()) if n else 0.0,
        best_f1=float(f1_curve[:, best].mean()) if n else 0.0,
        classes=per_class,
        images=tuple(images),
        iou_thresholds=thresholds,
        pr_recall=RECALL_POINTS,
        pr_precision=envelopes,
        confidence_grid=CONFIDENCE_GRID,
        precision_curve=p_curve,
        recall_curve=r_curve,
        f1_curve=f1_curve,
        curve_classes=gt_classes.astype(np.int64),
        class_confidence=dict(confidence) if isinstance(confidence, Mapping) else {},
    )
