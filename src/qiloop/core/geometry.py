"""Box geometry in NumPy: IoU and non-maximum suppression.

Boxes are ``(N, 4)`` float arrays in ``x1, y1, x2, y2`` pixel order. These are
the hot paths of evaluation and on-device post-processing, so they are
vectorised and allocation-light.
"""

from __future__ import annotations

import numpy as np


def as_xyxy(boxes) -> np.ndarray:
    """Return ``boxes`` as a ``(N, 4)`` float64 array, validating the shape."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (N, 4) in x1,y1,x2,y2 order, got {arr.shape}")
    return arr


def area(boxes) -> np.ndarray:
    b = as_xyxy(boxes)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def iou_matrix(a, b) -> np.ndarray:
    """Pairwise intersection over union: ``(N, 4)`` x ``(M, 4)`` -> ``(N, M)``.

    Example:
        >>> iou_matrix([[0, 0, 2, 2]], [[1, 1, 3, 3]]).round(4).tolist()
        [[0.1429]]
    """
    a, b = as_xyxy(a), as_xyxy(b)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = area(a)[:, None] + area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return out


def nms(boxes, scores, iou_threshold: float = 0.45, max_detections: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best score first.

    Args:
        boxes: ``(N, 4)`` boxes in x1,y1,x2,y2.
        scores: ``(N,)`` confidences.
        iou_threshold: a box overlapping a kept one by more than this is dropped.
        max_detections: stop after this many kept boxes.
    """
    b = as_xyxy(boxes)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(b) != len(s):
        raise ValueError(f"{len(b)} boxes but {len(s)} scores")
    order = np.argsort(-s, kind="stable")
    areas = area(b)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if max_detections is not None and len(keep) >= max_detections:
            break
        rest = order[1:]
        xx1 = np.maximum(b[i, 0], b[rest, 0])
        yy1 = np.maximum(b[i, 1], b[rest, 1])
        xx2 = np.minimum(b[i, 2], b[rest, 2])
        yy2 = np.minimum(b[i, 3], b[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        union = areas[i] + areas[rest] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            ov = np.where(union > 0, inter / union, 0.0)
        order = rest[ov <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, class_ids, iou_threshold: float = 0.45, max_detections: int | None = None) -> np.ndarray:
    """NMS applied per class (boxes of different classes never suppress each other)."""
    b = as_xyxy(boxes)
    c = np.asarray(class_ids).reshape(-1)
    if len(b) == 0:
        return np.zeros(0, dtype=np.int64)
    # Shift each class into its own coordinate region, the usual trick; the span
    # covers negative coordinates too, so no two classes' regions overlap.
    offset = (c.astype(np.float64) * (b.max() - b.min() + 1.0))[:, None]
    keep = nms(b + offset, scores, iou_threshold, max_detections)
    return keep


def clip(boxes, width: float, height: float) -> np.ndarray:
    """Clip boxes to the image rectangle."""
    b = as_xyxy(boxes).copy()
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, width)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, height)
    return b
