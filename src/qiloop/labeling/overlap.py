"""One-to-one matching of two box sets by IoU, and the F1 score it gives.

Used both to compare two annotators (agreement) and an annotator with gold
boxes (accuracy). Matching is global greedy: every same-class pair at or above
the IoU threshold, highest IoU first, each box used at most once. Unlike the
score-ordered matching of evaluation (``core.matching``), neither side is
privileged, so ``f1(a, b) == f1(b, a)`` whenever IoUs do not tie.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qiloop.core.geometry import iou_matrix
from qiloop.core.records import Box


def xyxy(boxes: Sequence[Box]) -> np.ndarray:
    """``(N, 4)`` corner coordinates of ``boxes``."""
    return np.asarray([b.xyxy for b in boxes], dtype=np.float64).reshape(-1, 4)


def class_ids(boxes: Sequence[Box]) -> np.ndarray:
    """``(N,)`` class ids of ``boxes``."""
    return np.asarray([b.class_id for b in boxes], dtype=np.int64)


def same_class_iou(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """``(len(a), len(b))`` IoU, zero where the classes differ."""
    iou = iou_matrix(xyxy(a), xyxy(b))
    if iou.size:
        iou *= class_ids(a)[:, None] == class_ids(b)[None, :]
    return iou


def match_pairs(a: Sequence[Box], b: Sequence[Box], iou_threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, iou)`` matching ``a[i]`` to ``b[j]`` one-to-one, highest IoU first.

    Example:
        >>> box = Box(class_id=0, left=0, top=0, width=10, height=10)
        >>> match_pairs([box], [box])
        [(0, 0, 1.0)]
    """
    iou = same_class_iou(a, b)
    rows, cols = np.nonzero(iou >= iou_threshold)
    order = np.lexsort((cols, rows, -iou[rows, cols]))
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs: list[tuple[int, int, float]] = []
    for k in order:
        i, j = int(rows[k]), int(cols[k])
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j, float(iou[i, j])))
    return pairs


def f1(a: Sequence[Box], b: Sequence[Box], iou_threshold: float = 0.5) -> float:
    """F1 of ``a`` against ``b`` at ``iou_threshold``: ``2·matches / (|a| + |b|)``; two empty sets agree (1.0)."""
    if not a and not b:
        return 1.0
    return 2 * len(match_pairs(a, b, iou_threshold)) / (len(a) + len(b))
