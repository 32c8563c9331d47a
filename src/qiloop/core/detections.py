"""Detections: a model's predictions for one image, stored column-wise in NumPy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from qiloop.core.errors import InvalidRecordError
from qiloop.core.geometry import as_xyxy, batched_nms
from qiloop.core.records import Box


@dataclass(frozen=True)
class Detections:
    """Boxes with scores and class ids, one row per detection.

    Attributes:
        xyxy: ``(N, 4)`` float boxes in pixels.
        scores: ``(N,)`` confidences in [0, 1].
        class_ids: ``(N,)`` integer class ids.

    Example:
        >>> d = Detections.from_boxes([Box(class_id=0, left=1, top=2, width=3, height=4, score=0.9)])
        >>> len(d), d.scores.tolist()
        (1, [0.9])
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        xyxy = as_xyxy(self.xyxy)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        class_ids = (
            np.zeros(len(xyxy), dtype=np.int64)
            if self.class_ids is None
            else np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        )
        if not (len(xyxy) == len(scores) == len(class_ids)):
            raise InvalidRecordError(
                f"detections need one score and class per box: {len(xyxy)} boxes, "
                f"{len(scores)} scores, {len(class_ids)} class ids"
            )
        if not (np.isfinite(xyxy).all() and np.isfinite(scores).all()):
            raise InvalidRecordError("detections contain NaN or infinite values")
        if len(xyxy) and ((xyxy[:, 2] < xyxy[:, 0]).any() or (xyxy[:, 3] < xyxy[:, 1]).any()):
            raise InvalidRecordError("detections contain boxes with x2 < x1 or y2 < y1")
        if len(scores) and (scores.min() < 0 or scores.max() > 1):
            raise InvalidRecordError("detection scores must lie in [0, 1]")
        if len(class_ids) and class_ids.min() < 0:
            raise InvalidRecordError("detection class ids must be >= 0")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", class_ids)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))

    @classmethod
    def from_boxes(cls, boxes: Iterable[Box], default_score: float = 1.0) -> Detections:
        boxes = list(boxes)
        if not boxes:
            return cls.empty()
        return cls(
            np.array([b.xyxy for b in boxes]),
            np.array([default_score if b.score is None else b.score for b in boxes]),
            np.array([b.class_id for b in boxes]),
        )

    def to_boxes(self) -> list[Box]:
        return [
            Box.from_xyxy(*map(float, xy), class_id=int(c), score=float(s))
            for xy, s, c in zip(self.xyxy, self.scores, self.class_ids, strict=True)
        ]

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[Box]:
        return iter(self.to_boxes())

    def __getitem__(self, index) -> Detections:
        idx = np.atleast_1d(np.arange(len(self))[index])
        return Detections(self.xyxy[idx], self.scores[idx], self.class_ids[idx])

    def above(self, confidence: float | Mapping[int, float]) -> Detections:
        """Only the detections with score >= ``confidence`` (one number, or one per class id)."""
        return self[passes(self.scores, self.class_ids, confidence)]

    def with_nms(self, iou_threshold: float = 0.45, max_detections: int | None = None) -> Detections:
        return self[batched_nms(self.xyxy, self.scores, self.class_ids, iou_threshold, max_detections)]


def passes(scores: np.ndarray, class_ids: np.ndarray, confidence: float | Mapping[int, float]) -> np.ndarray:
    """Which scores reach the operating confidence: one number, or a number per class id.

    A class missing from a per-class mapping needs a score of at least the lowest
    threshold given (or 0 for an empty mapping).
    """
    if not isinstance(confidence, Mapping):
        return np.asarray(scores) >= confidence
    floor = min(confidence.values(), default=0.0)
    limits = np.array([confidence.get(int(c), floor) for c in np.asarray(class_ids).tolist()], dtype=np.float64)
    return np.asarray(scores) >= limits
