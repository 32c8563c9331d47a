"""Export the label store's approved labels, as of a time or version, in any format.

YOLO folders are what training reads: images are copied out of the image store
and each image goes to the split of its group (a stable hash, so a group never
moves between exports). The file formats (labels.csv, Ground Truth, COCO) refer
to images by their image-store URI, so an export imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath

from qiloop.core.errors import QiloopError
from qiloop.core.records import LabelRecord
from qiloop.core.splits import DEFAULT_RATIOS, split_of
from qiloop.labelstore.formats import get, yolo_folder
from qiloop.labelstore.formats.draft import LabelDraft

DEFAULT_FILES = {"labels-csv": "labels.csv", "groundtruth": "output.manifest", "coco": "coco.json"}


@dataclass
class ExportSummary:
    """Where an export went, what it holds, and what could not be written."""

    path: Path
    format: str
    label_store_version: int | None
    images: int = 0
    boxes: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    errors: list[QiloopError] = field(default_factory=list)


def export_labels(
    labels,
    images,
    fmt: str,
    out: str | Path,
    *,
    as_of: datetime | int | None = None,
    classes: Sequence[str] = ("scratch",),
    ratios: Mapping[str, float] = DEFAULT_RATIOS,
) -> ExportSummary:
    """Write the latest APPROVED label of every image, as of ``as_of``, to ``out``.

    Args:
        labels: the label store.
        images: the image store (image bytes and split groups for YOLO).
        fmt: ``yolo``, ``labels-csv``, ``groundtruth`` or ``coco``.
        out: a folder for YOLO; a file or a folder (default file name) otherwise.
        as_of: a time or a label-store version; ``None`` is now.
        classes: class names, index = class id.
        ratios: split ratios for YOLO.
    """
    spec = get(fmt)
    snapshot = labels.snapshot(as_of=as_of)
    records: list[LabelRecord] = labels.records(snapshot.record_ids, version=snapshot.label_store_version)
    out = Path(out)
    summary = ExportSummary(out, spec.name, snapshot.label_store_version, images=len(records))
    summary.boxes = sum(len(r.annotations) for r in records)
    if spec.name == "yolo":
        _yolo(records, images, out, classes, ratios, summary)
        return summary
    if out.is_dir() or not out.suffix:
        out = out / DEFAULT_FILES[spec.name]
    summary.path = out
    options = {} if spec.name == "labels-csv" else {"classes": list(classes)}
    spec.write(out, [LabelDraft.from_record(r) for r in records], **options)
    return summary


def yolo_items(
    records: Sequence[LabelRecord],
    images,
    ratios: Mapping[str, float] = DEFAULT_RATIOS,
    assign: Callable[[str], str] | None = None,
):
    """``(record, split, file name)`` for each record: the split of its image's group, a unique name.

    The one place that assigns YOLO splits, shared by :func:`export_labels` and
    the training dataset build. The split comes from the image's ``group``
    (:func:`~qiloop.core.splits.split_of`), so a group never moves between
    exports; the name is the image's original file name, prefixed with its
    content hash when two images share a name. ``assign`` (group → split)
    replaces the ratios, as cross-validation does for each fold.
    """
    assign = assign or (lambda group: split_of(group, ratios))
    items, names = [], set()
    for record in records:
        image = images.get(record.image_sha256)
        split = assign(image.group)
        name = image.original_name or PurePath(record.image_uri).name
        if name in names:  # the same file name in two folders: keep both, told apart by content
            name = f"{record.image_sha256[:12]}-{name}"
        names.add(name)
        items.append((record, split, name))
    return items


def _yolo(records, images, out: Path, classes, ratios, summary: ExportSummary) -> None:
    items = yolo_items(records, images, ratios)
    by_uri = {record.image_uri: record.image_sha256 for record, _, _ in items}
    for _, split, _ in items:
        summary.splits[split] = summary.splits.get(split, 0) + 1
    result = yolo_folder.export(out, items, list(classes), lambda uri: images.read_bytes(by_uri[uri]))
    summary.errors.extend(result.errors)
