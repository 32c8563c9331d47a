"""Matching predictions to ground truth, per image, at several IoU thresholds.

Predictions in descending score order each claim the unclaimed true box of
the same class with the highest IoU; the claim is a true positive when that
IoU reaches the threshold. This is COCO's greedy matching, and the one
ultralytics' ``DetectionValidator.match_predictions`` uses, so the counts
agree with its validator's.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from qiloop.core.detections import Detections
from qiloop.core.geometry import iou_matrix

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def as_detections(item) -> Detections:
    """Detections from :class:`Detections`, a ``LabelRecord`` or an iterable of ``Box``."""
    if isinstance(item, Detections):
        return item
    boxes = getattr(item, "annotations", item)
    return Detections.from_boxes(boxes if isinstance(boxes, Iterable) else [])


def match(truth: Detections, pred: Detections, iou_thresholds: np.ndarray = IOU_THRESHOLDS) -> np.ndarray:
    """Which predictions are true positives at each IoU threshold.

    Returns:
        ``(len(pred), len(iou_thresholds))`` booleans, rows in the order of ``pred``.
    """
    thresholds = np.asarray(iou_thresholds, dtype=np.float64)
    correct = np.zeros((len(pred), len(thresholds)), dtype=bool)
    if len(truth) == 0 or len(pred) == 0:
        return correct
    order = np.argsort(-pred.scores, kind="stable")
    iou = iou_matrix(truth.xyxy, pred.xyxy[order])
    iou *= truth.class_ids[:, None] == pred.class_ids[order][None, :]
    claimed = np.zeros((len(truth), len(thresholds)), dtype=bool)
    columns = np.arange(len(thresholds))
    hits = np.zeros_like(correct)
    for j in np.flatnonzero((iou >= thresholds.min()).any(0)):
        available = np.where(claimed, 0.0, iou[:, j, None])
        best = available.argmax(0)
        hits[j] = available[best, columns] >= thresholds
        claimed[best, columns] |= hits[j]
    correct[order] = hits
    return correct
