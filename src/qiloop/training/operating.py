"""Choose a package's operating point on the validation split and write it into the package.

The test split stays for the gate: thresholds chosen on the images that then
judge them would flatter the model. The chosen confidences go into the
manifest, so devices, the HTTP endpoint, pre-labels and ``qiloop evaluate``
all use them unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qiloop.core.operating_point import f1_optimal
from qiloop.core.package import Thresholds, read_manifest
from qiloop.training.evaluate import SCORE_FLOOR, evaluate_package


def choose_operating_point(
    package_dir: str | Path,
    records: Sequence[Any],
    read_image: Callable[[Any], bytes],
    *,
    split: str = "val",
    min_confidence: float = 0.01,
) -> tuple[Thresholds, dict[str, Any]]:
    """Per class, the F1-optimal confidence on ``records``: the thresholds and how they were chosen.

    Returns:
        The package's thresholds with ``class_confidence`` set (``confidence`` their
        lowest), and the record for the manifest's ``operating_point``: the split,
        the number of images, and per class name its confidence, precision, recall,
        F1 and counts. With no labelled image the package keeps its thresholds.
    """
    manifest = read_manifest(Path(package_dir))
    evaluation = evaluate_package(package_dir, records, read_image, confidence=SCORE_FLOOR)
    if not evaluation.items:
        return manifest.thresholds, {
            "split": split,
            "images": 0,
            "classes": {},
            "note": "no labelled image to choose on",
        }
    points = f1_optimal(
        [item.annotations for item in evaluation.items],
        evaluation.predictions,
        num_classes=len(manifest.classes),
        default=manifest.thresholds.confidence,
        min_confidence=min_confidence,
    )
    names = {i: name for i, name in enumerate(manifest.classes)}
    chosen = {names[c]: p for c, p in points.items() if c in names}
    lowest = min(p.confidence for p in chosen.values())
    # A detection that passes its class's operating point is a defect: the verdict follows the same point.
    thresholds = manifest.thresholds.model_copy(
        update={
            "confidence": lowest,
            "class_confidence": {name: p.confidence for name, p in chosen.items()},
            "defect": lowest,
        }
    )
    record = {
        "split": split,
        "images": len(evaluation.items),
        "rule": "F1-optimal confidence per class at IoU 0.5",
        "classes": {name: p.to_dict() for name, p in chosen.items()},
    }
    return thresholds, record
