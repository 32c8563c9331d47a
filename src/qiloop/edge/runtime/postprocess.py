"""Post-processing: the raw YOLOv8 output becomes detections in image pixels.

A YOLOv8 detection head exported to ONNX emits ``(1, 4 + nc, N)``: per anchor
the box centre, width and height in input pixels, then one sigmoid score per
class. Decoding keeps each anchor's best class, drops those under the
confidence threshold, suppresses overlaps per class (in input pixels, as
ultralytics does), keeps the best ``max_detections``, and maps the boxes back
through the letterbox onto the original image, clipped to its edges.
"""

from __future__ import annotations

import numpy as np

from qiloop.core.detections import Detections
from qiloop.core.errors import InvalidRecordError
from qiloop.core.geometry import batched_nms

MAX_CANDIDATES = 30_000  # anchors kept for NMS at most, best first (as ultralytics)


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Centre, width, height to corners.

    Example:
        >>> xywh_to_xyxy(np.array([[10.0, 20.0, 4.0, 6.0]])).tolist()
        [[8.0, 17.0, 12.0, 23.0]]
    """
    out = np.empty_like(boxes)
    half = boxes[:, 2:4] / 2
    out[:, :2] = boxes[:, :2] - half
    out[:, 2:] = boxes[:, :2] + half
    return out


def unletterbox(
    boxes: np.ndarray, ratio: tuple[float, float], pad: tuple[float, float], image_size: tuple[int, int]
) -> np.ndarray:
    """Map ``xyxy`` boxes from model-input pixels back to the original image and clip them.

    Args:
        boxes: ``(N, 4)`` boxes in input pixels.
        ratio: ``(x, y)`` input pixels per original pixel.
        pad: ``(left, top)`` padding in input pixels.
        image_size: Original ``(height, width)``.
    """
    height, width = image_size
    out = (boxes - np.array([pad[0], pad[1], pad[0], pad[1]])) / np.array([ratio[0], ratio[1], ratio[0], ratio[1]])
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def decode(
    output: np.ndarray,
    *,
    confidence: float = 0.25,
    iou: float = 0.45,
    max_detections: int = 300,
    ratio: tuple[float, float] = (1.0, 1.0),
    pad: tuple[float, float] = (0, 0),
    image_size: tuple[int, int] | None = None,
) -> Detections:
    """Detections for one image from a YOLOv8 output tensor.

    Args:
        output: ``(1, 4 + nc, N)`` or ``(4 + nc, N)`` raw model output.
        confidence: Keep anchors whose best class scores at least this.
        iou: NMS threshold: a box overlapping a better one of its class by more is dropped.
        max_detections: Keep at most this many boxes, best first.
        ratio, pad: The letterbox of the input (see :func:`~qiloop.edge.runtime.preprocess.letterbox`).
        image_size: Original ``(height, width)`` to clip to; no back-mapping when None.

    Raises:
        InvalidRecordError: The tensor does not have the YOLOv8 layout.
    """
    out = np.asarray(output)
    if out.ndim == 3 and out.shape[0] == 1:
        out = out[0]
    if out.ndim != 2 or out.shape[0] < 5:
        raise InvalidRecordError(
            f"expected a YOLOv8 output of shape (1, 4 + classes, anchors), got {np.shape(output)}",
            hint="export the model with ultralytics' ONNX export (nms=False, end2end off)",
        )
    scores = out[4:]
    class_ids = scores.argmax(0)
    best = np.take_along_axis(scores, class_ids[None], 0)[0]
    keep = np.flatnonzero(best >= confidence)
    if len(keep) > MAX_CANDIDATES:
        keep = keep[np.argsort(-best[keep], kind="stable")[:MAX_CANDIDATES]]
    if len(keep) == 0:
        return Detections.empty()
    boxes = xywh_to_xyxy(out[:4, keep].T.astype(np.float64))
    kept_scores = best[keep].astype(np.float64).clip(0, 1)
    kept_classes = class_ids[keep]
    # IoU does not change under translation; shifting to non-negative coordinates
    # keeps the per-class offsets of batched NMS apart for boxes past the edge.
    chosen = batched_nms(boxes - boxes.min(), kept_scores, kept_classes, iou, max_detections)
    boxes = boxes[chosen]
    if image_size is not None:
        boxes = unletterbox(boxes, ratio, pad, image_size)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
    return Detections(boxes, kept_scores[chosen], kept_classes[chosen])
