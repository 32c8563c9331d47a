"""What a detection evaluation returns: summary figures, per class, per image, curves."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClassMetrics:
    """One class: AP over the IoU thresholds and counts at the operating point (IoU 0.5)."""

    class_id: int
    ground_truth: int
    predictions: int
    ap50: float
    ap50_95: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ImageCounts:
    """One image at the operating point: found (tp), false (fp) and missed (fn) boxes."""

    tp: int
    fp: int
    fn: int


@dataclass(frozen=True)
class DetectionMetrics:
    """The result of :func:`qiloop.core.metrics.evaluate_detections`.

    Attributes:
        map50: Mean AP at IoU 0.5 over the classes present in the ground truth.
        map50_95: Mean AP over all IoU thresholds and those classes.
        confidence: The operating confidence of ``precision``, ``recall``, ``f1`` and the counts.
        precision, recall, f1: Class means at the operating confidence.
        tp, fp, fn: Totals at the operating confidence over all classes.
        best_confidence: The confidence that maximises the (smoothed) mean F1, with
            ``best_precision``, ``best_recall`` and ``best_f1`` there.
        classes: Per-class figures, for every class in the ground truth or the predictions.
        images: Per-image counts at the operating point, in input order.
        pr_recall, pr_precision: The precision envelope at 101 recall points, one row
            per class in ``curve_classes`` (IoU 0.5) — the precision-recall plot.
        confidence_grid, precision_curve, recall_curve, f1_curve: Precision, recall and
            F1 against confidence, one row per class in ``curve_classes``.
        class_confidence: The per-class operating confidences when a package gave them
            (``confidence`` is then their lowest); empty for one confidence for all.
    """

    map50: float
    map50_95: float
    confidence: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    best_confidence: float
    best_precision: float
    best_recall: float
    best_f1: float
    classes: dict[int, ClassMetrics]
    images: tuple[ImageCounts, ...]
    iou_thresholds: np.ndarray
    pr_recall: np.ndarray
    pr_precision: np.ndarray
    confidence_grid: np.ndarray
    precision_curve: np.ndarray
    recall_curve: np.ndarray
    f1_curve: np.ndarray
    curve_classes: np.ndarray
    class_confidence: dict[int, float] = field(default_factory=dict)

    @property
    def ground_truth(self) -> int:
        """Number of true boxes over all images."""
        return self.tp + self.fn

    def summary(self) -> dict[str, float | int]:
        """The headline figures, flat, under the names training logs and the registry use."""
        return {
            "mAP50": self.map50,
            "mAP50-95": self.map50_95,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "confidence": self.confidence,
            "best_confidence": self.best_confidence,
            "best_precision": self.best_precision,
            "best_recall": self.best_recall,
            "best_f1": self.best_f1,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "images": len(self.images),
        }

    def to_dict(self) -> dict:
        """JSON-ready: the summary plus per-class figures (curves left out)."""
        return {**self.summary(), "classes": {str(c): m.to_dict() for c, m in sorted(self.classes.items())}}
