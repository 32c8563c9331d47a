"""YOLO dataset folders: import (:func:`read`) and export (:func:`export`), the I/O shell.

The text conversions live in :mod:`~qiloop.labelstore.formats.yolo`; this module
reads image headers, walks folders and writes files.

Import rules: every image under a split folder named in ``data.yaml`` that has
a label file becomes a draft (an empty label file: a negative); an image
without a label file is taken as not labelled and skipped. Image size is read
from the image header as ultralytics sees it (EXIF orientation applied), which
is what the normalised boxes refer to. (The image store records the stored
size, so a rotated image's labels are refused there with a size mismatch, and
:func:`export` refuses such an image too, rather than mislabel it.)
``event_time`` is the label file's modification time (UTC) unless given;
status APPROVED, source import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from qiloop.core.errors import FormatError, QiloopError, require
from qiloop.core.records import LabelRecord
from qiloop.labelstore.formats import yolo
from qiloop.labelstore.formats.draft import LabelDraft, ParseResult
from qiloop.labelstore.formats.textfile import read_text

DEPTHS = {
    "1": 1,
    "L": 1,
    "I;16": 1,
    "I;16B": 1,
    "I;16L": 1,
    "P": 3,
    "RGB": 3,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "LA": 2,
    "RGBA": 4,
    "CMYK": 4,
}
MAX_YAML_BYTES = 1024 * 1024
SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp", "MPO": ".jpg"}


def image_header(data: str | Path | BinaryIO) -> tuple[int, int, int, str]:
    """``(width, height, depth, format)`` from an image header, without decoding pixels.

    Width and height are swapped for EXIF orientations 5 to 8 (rotated by 90
    degrees), as ultralytics does before normalising boxes.
    """
    image_module = require("PIL.Image", "data")
    with image_module.open(data) as img:
        width, height = img.size
        try:
            orientation = img.getexif().get(0x0112)
        except (OSError, SyntaxError, ValueError):  # a damaged EXIF block does not make a damaged image
            orientation = None
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        return width, height, DEPTHS.get(img.mode, 3), img.format or ""


def read(root: str | Path, *, event_time: datetime | None = None) -> ParseResult:
    """Parse a YOLO dataset folder (or its ``data.yaml``) into drafts with the image paths as refs."""
    yaml = require("yaml", "data")
    root = Path(root)
    config = root if root.is_file() else root / "data.yaml"
    result = ParseResult()
    try:
        doc = yaml.safe_load(read_text(config, max_bytes=MAX_YAML_BYTES))
        names = yolo.parse_names(doc)
    except (OSError, yaml.YAMLError, FormatError) as exc:
        hint = getattr(exc, "hint", None) or "a YOLO folder needs a data.yaml with path, train, val and names"
        result.errors.append(FormatError(f"cannot use {config}: {getattr(exc, 'message', exc)}", hint=hint))
        return result
    base = Path(doc.get("path") or config.parent)
    if not base.is_absolute():
        base = config.parent / base
    if not base.is_dir():  # the folder moved since data.yaml was written
        base = config.parent
    for folder in _split_folders(doc, base, result):
        for image in sorted(p for p in folder.rglob("*") if p.suffix.lower() in yolo.IMAGE_SUFFIXES and p.is_file()):
            _read_image(image, len(names), event_time, result)
    return result


def _split_folders(doc: dict, base: Path, result: ParseResult) -> list[Path]:
    folders: list[Path] = []
    for split in yolo.SPLITS:
        entries = doc.get(split) or []
        for entry in entries if isinstance(entries, list) else [entries]:
            folder = (base / str(entry)).resolve()
            if not folder.is_dir():
                result.errors.append(
                    FormatError(
                        f"split {split!r}: {folder} is not a folder", hint="point each split at a folder of images"
                    )
                )
            elif folder not in folders:
                folders.append(folder)
    return folders


def _read_image(image: Path, classes: int, event_time: datetime | None, result: ParseResult) -> None:
    labels = Path(yolo.label_path(image.as_posix()))
    if not labels.is_file():
        return
    try:
        width, height, depth, _ = image_header(image)
        boxes, errors = yolo.loads_labels(labels.read_text(encoding="utf-8"), width, height, source=str(labels))
    except (OSError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
        result.errors.append(FormatError(f"cannot read {image}: {exc}", source=str(image)))
        return
    unknown = sorted({b.class_id for b in boxes if b.class_id >= classes})
    if unknown:
        errors.append(FormatError(f"class id(s) {unknown} are not in data.yaml's {classes} names", source=str(labels)))
    if errors:
        result.errors.extend(errors)
        return
    when = event_time or datetime.fromtimestamp(labels.stat().st_mtime, tz=timezone.utc)
    result.drafts.append(LabelDraft(str(image), width, height, depth, tuple(boxes), when))


@dataclass
class ExportResult:
    """What :func:`export` wrote, and the items it could not write."""

    root: Path
    images: int = 0
    boxes: int = 0
    errors: list[QiloopError] = field(default_factory=list)


def export(
    root: str | Path,
    items: Iterable[tuple[LabelDraft | LabelRecord, str, str]],
    classes: Sequence[str],
    fetch: Callable[[str], bytes],
) -> ExportResult:
    """Write a YOLO dataset folder that ultralytics trains on directly.

    Args:
        root: The dataset folder (created; existing files of the same name are replaced).
        items: ``(label, split, image_name)``; a record's image is fetched by its ``image_uri``.
            A name without an image suffix (``a.jpg_3``) gets one from the image bytes.
        classes: Class names, index = class id; written to ``data.yaml``.
        fetch: Returns the bytes of the image a reference names.

    Each item that cannot be written (fetch failed, size mismatch, unknown
    class, a name used twice) is reported in ``errors``; the rest are written.
    """
    root = Path(root)
    report, seen, splits = ExportResult(root), set(), set()
    for label, split, name in items:
        draft = LabelDraft.from_record(label) if isinstance(label, LabelRecord) else label
        try:
            path = _export_one(root, draft, split, name, classes, fetch, seen)
        except (QiloopError, OSError) as exc:
            message, hint = (exc.message, exc.hint) if isinstance(exc, QiloopError) else (str(exc), None)
            report.errors.append(FormatError(f"{draft.image_ref}: {message}", source=f"{split}/{name}", hint=hint))
            continue
        splits.add(split)
        report.images += 1
        report.boxes += len(draft.annotations)
        seen.add(path)
    yaml = require("yaml", "data")
    doc = yolo.data_yaml(str(root.resolve()), splits, classes)
    (root / "data.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return report


def _export_one(
    root: Path,
    draft: LabelDraft,
    split: str,
    name: str,
    classes: Sequence[str],
    fetch: Callable[[str], bytes],
    seen: set[Any],
) -> str:
    if not split or not name or any(s in part for part in (split, name) for s in ("/", "\\")) or name in (".", ".."):
        raise FormatError(f"split {split!r} and image name {name!r} must be plain names")
    unknown = sorted({b.class_id for b in draft.annotations if b.class_id >= len(classes)})
    if unknown:
        raise FormatError(f"class id(s) {unknown} have no name in {list(classes)}")
    data = fetch(draft.image_ref)
    width, height, _, kind = image_header(BytesIO(data))
    if (width, height) != (draft.image_width, draft.image_height):
        raise FormatError(f"the image is {width}x{height} but the label says {draft.image_width}x{draft.image_height}")
    if Path(name).suffix.lower() not in yolo.IMAGE_SUFFIXES:
        name += SUFFIXES.get(kind, f".{kind.lower()}")
    image = f"images/{split}/{name}"
    labels = yolo.label_path(image)
    if labels in seen:
        raise FormatError(f"{labels} is already written by another image", hint="give each image a unique name")
    for rel, content in ((image, data), (labels, yolo.dumps_labels(draft.annotations, width, height).encode())):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return labels
