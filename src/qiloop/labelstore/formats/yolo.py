"""YOLO label text (ultralytics layout), the pure half.

A dataset folder holds ``images/<split>/<name>.<ext>``, a label file
``labels/<split>/<name>.txt`` per image, and ``data.yaml`` naming the splits
and classes. A label line is ``class cx cy w h`` with the centre and size
divided by the image width and height, optionally followed by a score (as
ultralytics writes predictions with ``save_conf``). An empty label file is an
image with nothing to find (a negative).

Precision: normalised values are written with 6 decimals, so a round trip
returns every box coordinate within ``1e-6`` x the image size (at most
``0.75e-6`` x size: half a unit of the centre plus a quarter of the size);
class ids, image sizes and scores come back exactly. Boxes that overshoot the
image border by less than that tolerance are clipped to it.

The folder shell (reading image headers, writing files) is
:mod:`~qiloop.labelstore.formats.yolo_folder`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

from qiloop.core.errors import FormatError, InvalidRecordError
from qiloop.core.records import Box

DECIMALS = 6
TOLERANCE = 1e-6
SPLITS = ("train", "val", "test")
# The image suffixes ultralytics loads; any other file in images/ is ignored by it.
IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm", ".heic"})


def box_to_line(box: Box, width: int, height: int) -> str:
    """One label line for ``box`` in a ``width`` x ``height`` image.

    Example:
        >>> box_to_line(Box(class_id=0, left=0, top=0, width=225, height=150), 450, 300)
        '0 0.250000 0.250000 0.500000 0.500000'
    """
    values = (
        (box.left + box.width / 2) / width,
        (box.top + box.height / 2) / height,
        box.width / width,
        box.height / height,
    )
    line = " ".join([str(box.class_id), *(f"{v:.{DECIMALS}f}" for v in values)])
    return line if box.score is None else f"{line} {box.score!r}"


def line_to_box(line: str, width: int, height: int) -> Box:
    """The pixel box of one label line; raises FormatError saying what is wrong.

    Example:
        >>> line_to_box("0 0.25 0.25 0.5 0.5", 450, 300).xyxy
        (0.0, 0.0, 225.0, 150.0)
    """
    parts = line.split()
    if len(parts) not in (5, 6):
        hint = "segmentation polygons are not supported" if len(parts) > 6 else None
        raise FormatError(f"expected 'class cx cy w h [score]', found {len(parts)} fields", hint=hint)
    try:
        numbers = [float(p) for p in parts]
    except ValueError as exc:
        raise FormatError(f"not a number: {exc}") from exc
    if not numbers[0].is_integer() or numbers[0] < 0:
        raise FormatError(f"class {parts[0]!r} is not a class index")
    cx, cy, w, h = numbers[1:5]
    left, top = _inside((cx - w / 2) * width, width), _inside((cy - h / 2) * height, height)
    right, bottom = _inside((cx + w / 2) * width, width), _inside((cy + h / 2) * height, height)
    try:
        return Box(
            class_id=int(numbers[0]),
            left=left,
            top=top,
            width=right - left,
            height=bottom - top,
            score=numbers[5] if len(numbers) == 6 else None,
        )
    except InvalidRecordError as exc:
        raise FormatError(exc.message, hint="sizes must be positive and scores between 0 and 1") from exc


def _inside(value: float, size: int) -> float:
    """``value`` clipped to ``[0, size]`` when it overshoots by less than the tolerance."""
    slack = TOLERANCE * size
    if -slack <= value < 0:
        return 0.0
    if size < value <= size + slack:
        return float(size)
    if value < 0 or value > size:
        raise FormatError(f"the box reaches outside the {size}-pixel image side ({value:.3f})")
    return value


def dumps_labels(boxes: Iterable[Box], width: int, height: int) -> str:
    """The text of one label file ("" for an image without boxes)."""
    return "".join(box_to_line(b, width, height) + "\n" for b in boxes)


def loads_labels(
    text: str, width: int, height: int, *, source: str = "labels.txt"
) -> tuple[list[Box], list[FormatError]]:
    """Boxes of one label file, and a line-numbered error for each bad line."""
    boxes, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            boxes.append(line_to_box(line, width, height))
        except FormatError as exc:
            errors.append(FormatError(exc.message, source=source, line=number, hint=exc.hint))
    return boxes, errors


def label_path(image_path: str) -> str:
    """The label file of an image, as ultralytics finds it: ``.../images/x.jpg`` -> ``.../labels/x.txt``."""
    parts = list(PurePosixPath(image_path).parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return str(PurePosixPath(*parts).with_suffix(".txt"))


def data_yaml(root: str, splits: Iterable[str], classes: Sequence[str]) -> dict[str, Any]:
    """The ``data.yaml`` content for a dataset at ``root`` (as a dict, for yaml.safe_dump)."""
    doc: dict[str, Any] = {"path": root}
    for split in sorted(set(splits), key=lambda s: (SPLITS.index(s) if s in SPLITS else len(SPLITS), s)):
        doc[split] = f"images/{split}"
    doc["names"] = dict(enumerate(classes))
    return doc


def parse_names(doc: Any) -> list[str]:
    """Class names from a parsed ``data.yaml`` (``names`` as a list or a ``{index: name}`` map)."""
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        return names
    if isinstance(names, dict):
        try:
            keyed = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            keyed = {}
        if keyed and sorted(keyed) == list(range(len(keyed))):
            return [keyed[i] for i in range(len(keyed))]
    raise FormatError("data.yaml has no usable 'names'", hint="write names: {0: scratch, 1: dent} or [scratch, dent]")
