"""Evaluate a model on labelled images: metrics, per-image predictions, failures.

:func:`evaluate` is the core: any ``predict`` callable, any labelled items
(``LabelRecord`` or parsed ``LabelDraft``), any way to read their bytes.
:func:`evaluate_package` runs a model package through the edge runtime, the
very code devices run, so the figures are the deployed model's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qiloop.core.detections import Detections, passes
from qiloop.core.errors import InvalidRecordError, QiloopError
from qiloop.core.metrics import evaluate_detections
from qiloop.core.metrics_types import DetectionMetrics

# Predictions for mAP keep every box down to this score, as validators do;
# the operating confidence applies only to precision, recall and F1.
SCORE_FLOOR = 0.001


def item_name(item: Any) -> str:
    """How a labelled item is named in reports: its image URI or reference."""
    return str(getattr(item, "image_uri", None) or getattr(item, "image_ref", None) or item)


@dataclass(frozen=True)
class Failure:
    """An image that could not be evaluated, and why."""

    image: str
    reason: str


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes:
        metrics: The figures over the evaluated images.
        items: The labelled items evaluated (failures excluded), in order.
        predictions: The model's detections per item, down to :data:`SCORE_FLOOR`.
        failures: Items that could not be read or predicted, with the reason.
        model: A description of the model (package name and version, file).
    """

    metrics: DetectionMetrics
    items: tuple[Any, ...]
    predictions: tuple[Detections, ...]
    failures: tuple[Failure, ...] = ()
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def operating(self) -> float | dict[int, float]:
        """The operating confidence the counts were taken at: one number or one per class id."""
        return self.metrics.class_confidence or self.metrics.confidence

    def summary(self) -> dict[str, float | int]:
        """Headline figures (``mAP50``, ``mAP50-95``, ``precision``, ``recall``, ...)."""
        return {**self.metrics.summary(), "failed": len(self.failures)}

    def to_json(self, *, per_image: bool = True) -> dict[str, Any]:
        """JSON-ready summary: figures, per class, failures and (optionally) per image."""
        data: dict[str, Any] = {
            "model": self.model,
            **self.summary(),
            "classes": self.metrics.to_dict()["classes"],
            "failures": [{"image": f.image, "reason": f.reason} for f in self.failures],
            **self.extra,
        }
        if per_image:
            data["per_image"] = [
                {
                    "image": item_name(item),
                    "tp": counts.tp,
                    "fp": counts.fp,
                    "fn": counts.fn,
                    "detections": int(passes(pred.scores, pred.class_ids, self.operating).sum()),
                }
                for item, pred, counts in zip(self.items, self.predictions, self.metrics.images, strict=True)
            ]
        return data


def _read_rgb(item: Any, read_image: Callable[[Any], bytes]) -> np.ndarray:
    from qiloop.edge.runtime.preprocess import as_rgb_array

    rgb = as_rgb_array(read_image(item))
    width, height = getattr(item, "image_width", None), getattr(item, "image_height", None)
    if width is not None and height is not None and rgb.shape[:2] != (height, width):
        raise InvalidRecordError(
            f"the image is {rgb.shape[1]}x{rgb.shape[0]} but its label says {width}x{height}",
            hint="the label belongs to another image or the image was resized; fix the label",
        )
    return rgb


def evaluate(
    predict: Callable[[np.ndarray], Detections],
    records: Sequence[Any],
    read_image: Callable[[Any], bytes],
    *,
    confidence: float | Mapping[int, float] = 0.25,
    progress: bool = False,
    model: str = "",
) -> Evaluation:
    """Predict every labelled image and score the predictions against its labels.

    An image that cannot be read, whose size contradicts its label, or that the
    model fails on is recorded in ``failures`` and the rest go on.

    Args:
        predict: Image (``HxWx3`` uint8 RGB array) to detections; give it a low
            score floor (:data:`SCORE_FLOOR`) so mAP sees the whole ranking.
        records: Labelled items: anything with ``annotations`` (``LabelRecord``, ``LabelDraft``).
        read_image: The encoded bytes of an item's image.
        confidence: The operating confidence for precision, recall, F1 and error counts
            (one number, or one per class id).
        progress: Show a progress bar on the console.
        model: A description of the model for the report.
    """
    items, truths, predictions, failures = [], [], [], []
    iterator: Any = records
    if progress:
        from rich.progress import track

        iterator = track(records, description="evaluating", total=len(records))
    for item in iterator:
        try:
            rgb = _read_rgb(item, read_image)
            detections = predict(rgb)
        except (QiloopError, OSError) as exc:
            failures.append(Failure(item_name(item), getattr(exc, "message", None) or str(exc)))
            continue
        items.append(item)
        truths.append(Detections.from_boxes(item.annotations))
        predictions.append(detections)
    metrics = evaluate_detections(truths, predictions, confidence=confidence)
    return Evaluation(metrics, tuple(items), tuple(predictions), tuple(failures), model)


def evaluate_package(
    package_dir: str | Path,
    records: Sequence[Any],
    read_image: Callable[[Any], bytes],
    *,
    int8: bool = False,
    confidence: float | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> Evaluation:
    """Evaluate a model package with the edge runtime (``model.onnx`` or ``model.int8.onnx``).

    The package is verified (sha256 of every file) before use; the operating
    confidence defaults to the package's own (per class, when training chose them).
    """
    from qiloop.edge.runtime import OnnxDetector

    detector = OnnxDetector.from_package(package_dir, threads=threads, int8=int8)
    manifest = detector.manifest
    operating = manifest.operating_confidence() if confidence is None else confidence
    evaluation = evaluate(
        lambda image: detector.detect(image, confidence=SCORE_FLOOR),
        records,
        read_image,
        confidence=operating,
        progress=progress,
        model=f"{manifest.name}{'/' + manifest.version if manifest.version else ''} ({detector.model_file})",
    )
    return dataclasses.replace(evaluation, extra={"class_names": list(manifest.classes)})
