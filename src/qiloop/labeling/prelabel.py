"""Model pre-labels: a model package's predictions, shown to workers as the boxes to start from.

The model is a package folder or a registry reference (``scratch-detector@production``),
run with the edge runtime and the thresholds in the package's manifest, so
workers see what the production model would report. Boxes keep their scores
and are mapped onto the job's classes by name; classes the job does not label
are dropped.

Detectors report a thin scratch as several overlapping boxes (the whole
scratch, its halves, jittered copies) that IoU-based NMS keeps apart; a
labeller shown all of them accepts them all. :func:`merge_near_duplicates`
folds them into one box before a labeller sees them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.package import MANIFEST, ModelManifest, is_package, read_manifest
from qiloop.core.records import Box, ImageRecord
from qiloop.labeling.consolidation import DUPLICATE_OVERLAP, intersection_over_smaller


@dataclass(frozen=True)
class ModelPackage:
    """A model package folder ready to run, and how a job names it (``model:NAME/VERSION``)."""

    path: Path
    source: str


def source_of(manifest: ModelManifest) -> str:
    """How a job records where its pre-labels came from: ``model:NAME/VERSION``."""
    return f"model:{manifest.name}/{manifest.version}" if manifest.version else f"model:{manifest.name}"


@dataclass(frozen=True)
class MergedPrelabel:
    """A pre-label as a labeller sees it: ``box`` covers ``merged`` near-duplicate boxes; its score is their best."""

    box: Box
    merged: int


def merge_near_duplicates(boxes: Sequence[Box], threshold: float = DUPLICATE_OVERLAP) -> list[MergedPrelabel]:
    """Fold boxes of one defect into one box, best score first.

    Boxes are taken in order of score (unscored ones first, as certain); each joins
    the group whose box it overlaps most, by intersection over the smaller box
    (see :func:`~qiloop.labeling.consolidation.intersection_over_smaller`), when
    that reaches ``threshold``, else starts a group. A group's box is the box
    around its members, so halves of one scratch become the whole scratch; its
    score is its best member's. Groups that come to overlap as they grow are folded
    together. Classes never mix.

    Example:
        >>> whole = Box.from_xyxy(0, 0, 100, 100, score=0.6)
        >>> half = Box.from_xyxy(0, 0, 50, 50, score=0.9)
        >>> [(m.box.xyxy, m.box.score, m.merged) for m in merge_near_duplicates([whole, half])]
        [((0.0, 0.0, 100.0, 100.0), 0.9, 2)]
    """
    order = sorted(range(len(boxes)), key=lambda i: (-(1.0 if boxes[i].score is None else boxes[i].score), i))
    groups: list[tuple[Box, int]] = []
    for i in order:
        box = boxes[i]
        if groups:
            overlap = intersection_over_smaller([box], [g for g, _ in groups])[0]
            best = int(np.argmax(overlap))
            if overlap[best] >= threshold:
                groups[best] = (_around(groups[best][0], box), groups[best][1] + 1)
                continue
        groups.append((box, 1))
    # A group that grew may now cover one started before it grew (the second half of a scratch
    # seen before the whole): fold such groups into the better one until none overlap.
    folded = True
    while folded:
        folded = False
        overlap = np.triu(intersection_over_smaller([g for g, _ in groups], [g for g, _ in groups]), k=1)
        if len(groups) > 1 and overlap.max() >= threshold:
            i, j = np.unravel_index(int(np.argmax(overlap)), overlap.shape)
            groups[i] = (_around(groups[i][0], groups[j][0]), groups[i][1] + groups[j][1])
            del groups[j]
            folded = True
    return [MergedPrelabel(box, count) for box, count in groups]


def _around(group: Box, box: Box) -> Box:
    """The box around both, with ``group``'s class and score."""
    x1, y1 = min(group.left, box.left), min(group.top, box.top)
    x2, y2 = max(group.right, box.right), max(group.bottom, box.bottom)
    return Box.from_xyxy(x1, y1, x2, y2, class_id=group.class_id, score=group.score)


def class_map(model_classes: Sequence[str], job_classes: Sequence[str]) -> dict[int, int]:
    """Model class id to job class id, for the classes both name.

    Example:
        >>> class_map(["dent", "scratch"], ["scratch"])
        {1: 0}

    Raises:
        ConfigurationError: The model predicts none of the job's classes.
    """
    wanted = {name: i for i, name in enumerate(job_classes)}
    mapping = {i: wanted[name] for i, name in enumerate(model_classes) if name in wanted}
    if not mapping:
        raise ConfigurationError(
            f"the model predicts the classes {list(model_classes)}, none of which the job labels {list(job_classes)}",
            hint="give the job the model's class names (--class), or pre-label with a model of the job's classes",
        )
    return mapping


def remap(boxes: Sequence[Box], mapping: dict[int, int]) -> list[Box]:
    """``boxes`` with job class ids; boxes of classes outside ``mapping`` are dropped."""
    return [b.model_copy(update={"class_id": mapping[b.class_id]}) for b in boxes if b.class_id in mapping]


@contextmanager
def model_package(ref: str | Path, registry: Callable[[], Any] | None = None) -> Iterator[ModelPackage]:
    """The package ``ref`` names: a folder as it is, or a registered version downloaded (and removed after).

    A folder is named by its manifest, a registered version by its registry name and version.

    Args:
        ref: A package folder, or a reference such as ``scratch-detector@production``.
        registry: Builds the :class:`qiloop.registry.ModelRegistry` that resolves references.

    Raises:
        NotFoundError: ``ref`` is a path but not a package, or a reference the registry does not know.
    """
    path = Path(ref)
    if is_package(path):
        yield ModelPackage(path, source_of(read_manifest(path, verify=False)))
        return
    if path.exists() or registry is None:
        raise NotFoundError(
            f"{ref} is not a model package folder (no {MANIFEST})"
            + ("" if path.exists() else " and no registry is configured to resolve it"),
            hint="give a package folder, or a registry reference such as scratch-detector@production",
        )
    models = registry()
    version = models.get(str(ref))
    with tempfile.TemporaryDirectory(prefix="qiloop-prelabel-") as tmp:
        yield ModelPackage(models.download(version.ref, Path(tmp) / "package"), f"model:{version.ref}")


def predict_prelabels(
    package: str | Path,
    records: Sequence[ImageRecord],
    image_store,
    *,
    classes: Sequence[str] | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> dict[str, list[Box]]:
    """Run the package's detector on each image; the boxes it keeps, with their scores, by image sha256.

    The manifest's thresholds (confidence, IoU, max detections) decide which
    boxes are kept; each box carries its score.

    Args:
        package: A model package folder (see :func:`model_package` for references).
        records: Images of ``image_store`` (an :class:`qiloop.storage.ImageStore`).
        classes: The job's classes; model classes are mapped onto them by name (default: the model's own).
        threads: ONNX Runtime threads (default: every core).
        progress: Show a progress bar on stderr.

    Raises:
        ConfigurationError: The model predicts none of ``classes``.
        NotFoundError, InvalidRecordError: The package is missing or damaged, or an image is not in the store.
    """
    from qiloop.edge.runtime import OnnxDetector
    from qiloop.storage.sources import progress_bar

    detector = OnnxDetector.from_package(package, threads=threads)
    mapping = class_map(detector.classes, classes or detector.classes)
    boxes: dict[str, list[Box]] = {}
    with progress_bar(len(records), progress and bool(records), "pre-labelling images") as advance:
        for record in records:
            if record.sha256 not in boxes:
                detections = detector.detect(image_store.read_bytes(record.sha256))
                boxes[record.sha256] = remap(detections.to_boxes(), mapping)
            advance()
    return boxes
