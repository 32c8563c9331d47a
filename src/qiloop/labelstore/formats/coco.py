"""COCO object-detection JSON: import and export.

``images`` (id, file_name, width, height), ``annotations`` (id, image_id,
category_id, bbox ``[x, y, w, h]`` in pixels, area, iscrowd, score when
present) and ``categories`` (id, name). On export class ``i`` becomes category
id ``i + 1`` named ``classes[i]``; on import categories map to class ids by
their order sorted by id, or by name when ``classes`` is given. Images without
annotations are kept: they are negatives.

COCO has no label time, job, status or provenance. Export writes them per image
under a ``"qiloop"`` key, so an export followed by an import is lossless; for
images without it, ``event_time`` is the ``event_time`` argument or else
``info.date_created``, status APPROVED and source import.

Errors carry the 1-based position of the entry in ``images`` (or, for an
annotation naming no known image, in ``annotations``) as their line number;
an image with any bad annotation is reported and left out whole.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from qiloop.core.errors import FormatError, InvalidRecordError
from qiloop.core.records import Box
from qiloop.labelstore.formats import extras
from qiloop.labelstore.formats.draft import LabelDraft, ParseResult
from qiloop.labelstore.formats.jsonfields import as_int, as_list, as_number, loads_json, member
from qiloop.labelstore.formats.textfile import read_text


def loads(
    text: str,
    *,
    classes: Sequence[str] | None = None,
    event_time: datetime | None = None,
    source: str = "annotations.json",
) -> ParseResult:
    """Parse COCO JSON text into drafts, one per image; bad entries become numbered errors.

    Args:
        text: A COCO detection document.
        classes: qiloop's class names: categories map to class ids by name.
            ``None`` numbers the categories in the order of their ids.
        event_time: Time of images that carry none of their own.
        source: Name used in error messages.
    """
    result = ParseResult()
    try:
        doc = loads_json(text)
        images = as_list(member(doc, "images", "the document"), "images")
        annotations = as_list(doc.get("annotations", []), "annotations")
        category_class = _categories(as_list(member(doc, "categories", "the document"), "categories"), classes)
    except json.JSONDecodeError as exc:
        result.errors.append(FormatError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno))
        return result
    except FormatError as exc:
        result.errors.append(FormatError(exc.message, source=source, hint=exc.hint))
        return result
    fallback = _fallback_time(doc.get("info"), event_time)
    by_image: dict[Any, list[tuple[int, Any]]] = {}
    for position, ann in enumerate(annotations, start=1):
        by_image.setdefault(_key(ann, "image_id"), []).append((position, ann))
    ids = [_key(image, "id") for image in images]
    counts = Counter(ids)
    for position, (image, image_id) in enumerate(zip(images, ids, strict=True), start=1):
        try:
            if image_id is None:
                raise FormatError("the image has no integer or string id")
            if counts[image_id] > 1:
                raise FormatError(
                    f"image id {image_id!r} appears {counts[image_id]} times", hint="give each image a unique id"
                )
            draft = _image_draft(image, by_image.get(image_id, []), category_class, fallback, position)
            result.drafts.append(draft)
        except (FormatError, InvalidRecordError, ValueError, ArithmeticError) as exc:
            name = image.get("file_name") if isinstance(image, dict) else None
            reason = exc.message if isinstance(exc, (FormatError, InvalidRecordError)) else f"unusable value: {exc}"
            message = f"image #{position} (id {image_id!r}, {name!r}): {reason}"
            result.errors.append(FormatError(message, source=source, line=position, hint=getattr(exc, "hint", None)))
    for image_id, anns in by_image.items():
        if image_id is None or image_id not in counts:
            for position, ann in anns:
                if isinstance(ann, dict):
                    message = f"annotation #{position} (id {ann.get('id')!r}): image_id {image_id!r} is not in images"
                else:
                    message = f"annotation #{position} must be an object, found {type(ann).__name__}"
                result.errors.append(FormatError(message, source=source, line=position))
    return result


def _key(entry: Any, name: str) -> int | str | None:
    value = entry.get(name) if isinstance(entry, dict) else None
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _fallback_time(info: Any, event_time: datetime | None) -> datetime | str:
    """The time for images without their own, or why there is none."""
    if event_time is not None:
        return event_time
    if not isinstance(info, dict) or "date_created" not in info:
        return "the file has no info.date_created"
    created = info["date_created"]
    try:
        return extras.parse_time(
            created.replace("/", "-") if isinstance(created, str) else created, what="info.date_created"
        )
    except FormatError as exc:
        return exc.message


def _categories(categories: list, classes: Sequence[str] | None) -> dict[int, int]:
    """Category id -> class id; categories not in ``classes`` are left out (their use is an error)."""
    names: dict[int, str] = {}
    for i, cat in enumerate(categories):
        cat_id = as_int(member(cat, "id", f"categories[{i}]"), f"categories[{i}].id")
        if cat_id in names:
            raise FormatError(f"category id {cat_id} appears twice")
        names[cat_id] = str(member(cat, "name", f"categories[{i}]"))
    if classes is None:
        return {cat_id: index for index, cat_id in enumerate(sorted(names))}
    return {cat_id: list(classes).index(name) for cat_id, name in names.items() if name in classes}


def _image_draft(
    image: Any, anns: list, category_class: dict[int, int], fallback: datetime | str, position: int
) -> LabelDraft:
    name = member(image, "file_name", "the image")
    if not isinstance(name, str) or not name:
        raise FormatError("file_name must be a non-empty string")
    fields: dict[str, Any] = {"image_depth": 3}
    if extras.EXTRA_KEY in image:
        fields.update(extras.parse_provenance(image[extras.EXTRA_KEY]))
    fields.setdefault("event_time", fallback)
    if isinstance(fields["event_time"], str):
        raise FormatError(f"no event time: {fields['event_time']}", hint="pass the time the labels were made")
    boxes = tuple(_box(ann, position_in_file, category_class) for position_in_file, ann in anns)
    return LabelDraft(
        image_ref=name,
        image_width=as_int(member(image, "width", "the image"), "width"),
        image_height=as_int(member(image, "height", "the image"), "height"),
        annotations=boxes,
        line=position,
        **fields,
    )


def _box(ann: Any, position: int, category_class: dict[int, int]) -> Box:
    what = f"annotation #{position}"
    if not isinstance(ann, dict):
        raise FormatError(f"{what} must be an object")
    if ann.get("iscrowd", 0):
        raise FormatError(f"{what} is a crowd region (iscrowd 1)", hint="crowd regions are not boxes; remove them")
    category = as_int(member(ann, "category_id", what), f"{what}.category_id")
    if category not in category_class:
        raise FormatError(
            f"{what}: unknown category_id {category}", hint="list it in categories (and in the class names, when given)"
        )
    bbox = as_list(member(ann, "bbox", what), f"{what}.bbox")
    if len(bbox) != 4:
        raise FormatError(f"{what}.bbox must be [x, y, width, height], found {len(bbox)} values")
    x, y, w, h = (as_number(v, f"{what}.bbox") for v in bbox)
    score = ann.get("score")
    try:
        return Box(
            class_id=category_class[category],
            left=x,
            top=y,
            width=w,
            height=h,
            score=None if score is None else as_number(score, f"{what}.score"),
        )
    except InvalidRecordError as exc:
        raise FormatError(f"{what}: {exc.message}", hint=exc.hint) from exc


def to_document(drafts: Iterable[LabelDraft], *, classes: Sequence[str]) -> dict[str, Any]:
    """The COCO document for ``drafts`` (image ids and annotation ids count from 1)."""
    images, annotations = [], []
    latest = None
    for image_id, d in enumerate(drafts, start=1):
        unnamed = sorted({b.class_id for b in d.annotations if b.class_id >= len(classes)})
        if unnamed:
            raise FormatError(
                f"{d.image_ref}: class id(s) {unnamed} have no name in {list(classes)}",
                hint="pass classes naming every class id",
            )
        latest = d.event_time if latest is None else max(latest, d.event_time)
        images.append(
            {
                "id": image_id,
                "file_name": d.image_ref,
                "width": d.image_width,
                "height": d.image_height,
                extras.EXTRA_KEY: extras.provenance(d, with_time=True),
            }
        )
        for b in d.annotations:
            ann = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": b.class_id + 1,
                "bbox": [extras.number(v) for v in (b.left, b.top, b.width, b.height)],
                "area": extras.number(b.width * b.height),
                "iscrowd": 0,
            }
            if b.score is not None:
                ann["score"] = b.score
            annotations.append(ann)
    info: dict[str, Any] = {"description": "qiloop labels"}
    if latest is not None:
        info["date_created"] = extras.format_time(latest)
    categories = [{"id": i + 1, "name": name, "supercategory": "none"} for i, name in enumerate(classes)]
    return {"info": info, "images": images, "annotations": annotations, "categories": categories}


def dumps(drafts: Iterable[LabelDraft], *, classes: Sequence[str]) -> str:
    """Render drafts as COCO JSON text; raises FormatError for a class without a name."""
    return json.dumps(to_document(drafts, classes=classes), ensure_ascii=False) + "\n"


def read(path: str | Path, **options: Any) -> ParseResult:
    """Parse a COCO JSON file (UTF-8, a regular file within the size limit); ``options`` as for :func:`loads`."""
    return loads(read_text(path), source=str(path), **options)


def write(path: str | Path, drafts: Iterable[LabelDraft], **options: Any) -> Path:
    """Write drafts to ``path`` as COCO JSON; ``options`` as for :func:`dumps`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(drafts, **options), encoding="utf-8")
    return path
