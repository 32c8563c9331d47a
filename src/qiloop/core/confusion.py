"""The detection confusion matrix: what each true box was found as (or missed), and the false boxes.

Per image, predictions at or above the operating confidence are matched one to
one with the true boxes at IoU ≥ ``iou``, highest IoU first and whatever their
classes (so a scratch found as a dent is a confusion, not a miss and a false
box). Rows are the true class then ``background`` (false boxes); columns the
predicted class then ``background`` (missed boxes). The last cell stays 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qiloop.core.detections import Detections
from qiloop.core.geometry import iou_matrix


def confusion_matrix(
    truths: Sequence[Detections], predictions: Sequence[Detections], n_classes: int, *, iou: float = 0.5
) -> np.ndarray:
    """``(n_classes + 1, n_classes + 1)`` counts; index ``n_classes`` is the background.

    Example:
        >>> from qiloop.core.records import Box
        >>> truth = Detections.from_boxes([Box(class_id=0, left=0, top=0, width=10, height=10)])
        >>> found = Detections.from_boxes([Box(class_id=0, left=1, top=0, width=10, height=10, score=0.9)])
        >>> confusion_matrix([truth], [found], 1).tolist()
        [[1, 0], [0, 0]]
    """
    if len(truths) != len(predictions):
        raise ValueError(f"{len(truths)} ground truths for {len(predictions)} predictions")
    matrix = np.zeros((n_classes + 1, n_classes + 1), dtype=np.int64)
    background = n_classes
    for truth, predicted in zip(truths, predictions, strict=True):
        t_cls = np.minimum(truth.class_ids.astype(np.int64), background)
        p_cls = np.minimum(predicted.class_ids.astype(np.int64), background)
        matched_t, matched_p = _match(truth.xyxy, predicted.xyxy, iou)
        np.add.at(matrix, (t_cls[matched_t], p_cls[matched_p]), 1)
        missed = np.setdiff1d(np.arange(len(truth)), matched_t)
        false = np.setdiff1d(np.arange(len(predicted)), matched_p)
        np.add.at(matrix, (t_cls[missed], background), 1)
        np.add.at(matrix, (background, p_cls[false]), 1)
    return matrix


def _match(truth: np.ndarray, predicted: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one pairs with IoU ≥ ``threshold``, highest IoU first."""
    if len(truth) == 0 or len(predicted) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    overlaps = iou_matrix(truth, predicted)
    rows, cols = np.nonzero(overlaps >= threshold)
    order = np.argsort(-overlaps[rows, cols], kind="stable")
    used_t, used_p, pairs_t, pairs_p = set(), set(), [], []
    for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if r not in used_t and c not in used_p:
            used_t.add(r)
            used_p.add(c)
            pairs_t.append(r)
            pairs_p.append(c)
    return np.asarray(pairs_t, dtype=np.int64), np.asarray(pairs_p, dtype=np.int64)
