"""SageMaker Ground Truth bounding-box output manifests (JSON Lines).

One JSON object per line and image::

    {"source-ref": "s3://bucket/a.jpg",
     "bounding-box": {"image_size": [{"width": 450, "height": 300, "depth": 3}],
                      "annotations": [{"class_id": 0, "left": 81, "top": 123, "width": 82, "height": 97}]},
     "bounding-box-metadata": {"objects": [{"confidence": 0.9}], "class-map": {"0": "scratch"},
                               "type": "groundtruth/object-detection", "human-annotated": "yes",
                               "creation-date": "2022-07-07T12:34:56.789012", "job-name": "labeling-job/x"}}

The label attribute ("bounding-box" above) is the job's own name: it is found
as the key whose ``-metadata`` has type ``groundtruth/object-detection``; when
a line holds several (a chained adjustment job writes the same shape under a
new name) the one with the latest ``creation-date`` wins. Mapping:
``creation-date`` (UTC) -> ``event_time``, ``job-name`` -> ``labeling_job``,
``objects[i].confidence`` -> ``Box.score``, ``human-annotated: "no"``
(automated labelling) -> source ``model``.

A label verification job adds an attribute of type
``groundtruth/label-verification`` whose ``class-name`` is one of the job's
own categories; ``verdicts`` maps those names (case-insensitive) onto a
status, by default ``good`` -> APPROVED and ``bad`` -> REJECTED, and the
draft's ``event_time`` becomes the later of the two creation dates. qiloop's
own fields travel under the ``"qiloop"`` key (see
:mod:`~qiloop.labelstore.formats.extras`). A line's status is, first found:
the verification verdict, the ``"qiloop"`` status, the ``status`` argument.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qiloop.core.errors import FormatError, InvalidRecordError
from qiloop.core.records import Box, LabelSource, LabelStatus, utc
from qiloop.labelstore.formats import extras
from qiloop.labelstore.formats.draft import LabelDraft, ParseResult
from qiloop.labelstore.formats.jsonfields import as_int, as_list, as_number, loads_json, member
from qiloop.labelstore.formats.textfile import read_text

BOX_TYPE = "groundtruth/object-detection"
VERIFY_TYPE = "groundtruth/label-verification"
DEFAULT_ATTRIBUTE = "bounding-box"
VERDICTS: Mapping[str, LabelStatus] = {"good": LabelStatus.APPROVED, "bad": LabelStatus.REJECTED}
MAX_LINE_CHARS = 4 * 1024 * 1024  # a line with thousands of boxes is a few hundred KB


def loads(
    text: str,
    *,
    attribute: str | None = None,
    classes: Sequence[str] | None = None,
    status: LabelStatus = LabelStatus.APPROVED,
    verdicts: Mapping[str, LabelStatus] = VERDICTS,
    source: str = "output.manifest",
) -> ParseResult:
    """Parse manifest text into drafts; a bad line becomes a line-numbered error.

    Args:
        text: JSON Lines, one image per line (blank lines are skipped).
        attribute: The label attribute name; ``None`` detects it per line.
        classes: qiloop's class names; when given, each box's class is mapped
            through the line's ``class-map`` by name, so a job's own numbering
            does not matter. When ``None``, class ids are kept as written.
        status: Status of lines that carry no verification result.
        verdicts: Verification class names (lower case) and the status each means.
        source: Name used in error messages.
    """
    result = ParseResult()
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            if len(raw) > MAX_LINE_CHARS:
                raise FormatError(
                    f"the line is {len(raw):,} characters long, above the limit of {MAX_LINE_CHARS:,}",
                    hint="one manifest line describes one image; this one is damaged or not a manifest line",
                )
            entry = loads_json(raw)
            result.drafts.append(
                entry_to_draft(entry, attribute=attribute, classes=classes, status=status, verdicts=verdicts, line=line)
            )
        except json.JSONDecodeError as exc:
            result.errors.append(
                FormatError(
                    f"not valid JSON: {exc.msg} at column {exc.colno}",
                    source=source,
                    line=line,
                    hint="each line must be one complete JSON object",
                )
            )
        except (FormatError, InvalidRecordError) as exc:
            result.errors.append(FormatError(exc.message, source=source, line=line, hint=exc.hint))
        except (ValueError, ArithmeticError) as exc:  # a value no label can hold, e.g. a number out of range
            result.errors.append(FormatError(f"unusable value: {exc}", source=source, line=line))
    return result


def detect_attribute(entry: dict[str, Any], kind: str = BOX_TYPE) -> str | None:
    """The label attribute of ``kind`` in a manifest line (latest creation-date first), or None."""
    found = [
        key
        for key, meta in entry.items()
        if key.endswith("-metadata") and isinstance(meta, dict) and meta.get("type") == kind
    ]
    if not found:
        return None
    latest = max(found, key=lambda key: str(entry[key].get("creation-date", "")))
    return latest[: -len("-metadata")]


def entry_to_draft(
    entry: Any,
    *,
    attribute: str | None = None,
    classes: Sequence[str] | None = None,
    status: LabelStatus = LabelStatus.APPROVED,
    verdicts: Mapping[str, LabelStatus] = VERDICTS,
    line: int | None = None,
) -> LabelDraft:
    """One parsed manifest line as a draft (see :func:`loads` for the arguments)."""
    ref = member(entry, "source-ref", "the line")
    if not isinstance(ref, str) or not ref:
        raise FormatError("source-ref must be a non-empty string")
    name = attribute or detect_attribute(entry)
    if name is None:
        raise FormatError(
            f"no bounding-box label attribute (a key whose -metadata has type {BOX_TYPE!r})",
            hint="pass the label attribute name explicitly",
        )
    meta = member(entry, f"{name}-metadata", "the line")
    if name not in entry:
        reason = meta.get("failure-reason") if isinstance(meta, dict) else None
        raise FormatError(f"no label under {name!r}" + (f": {reason}" if reason else ""))
    label = entry[name]
    size = as_list(member(label, "image_size", name), f"{name}.image_size")
    if not size:
        raise FormatError(f"{name}.image_size is empty")
    width = as_int(member(size[0], "width", "image_size[0]"), "image_size[0].width")
    height = as_int(member(size[0], "height", "image_size[0]"), "image_size[0].height")
    depth = as_int(size[0].get("depth", 3), "image_size[0].depth")
    time = extras.parse_time(member(meta, "creation-date", f"{name}-metadata"), what="creation-date")
    job = meta.get("job-name", "")
    fields: dict[str, Any] = {
        "status": status,
        "source": LabelSource.MODEL if meta.get("human-annotated") == "no" else LabelSource.IMPORT,
    }
    if extras.EXTRA_KEY in entry:
        fields.update(extras.parse_provenance(entry[extras.EXTRA_KEY]))
    verify = detect_attribute(entry, VERIFY_TYPE)
    if verify is not None:
        verdict, when = _verdict(entry[f"{verify}-metadata"], verify, verdicts)
        fields["status"] = verdict
        time = max(time, when)
    return LabelDraft(
        image_ref=ref,
        image_width=width,
        image_height=height,
        image_depth=depth,
        annotations=_boxes(label, meta, name, classes),
        event_time=time,
        labeling_job=job if isinstance(job, str) else str(job),
        line=line,
        **fields,
    )


def _boxes(label: Any, meta: dict, name: str, classes: Sequence[str] | None) -> tuple[Box, ...]:
    annotations = as_list(label.get("annotations", []), f"{name}.annotations")
    objects = as_list(meta.get("objects", []), f"{name}-metadata.objects")
    if objects and len(objects) != len(annotations):
        raise FormatError(
            f"{len(annotations)} annotations but {len(objects)} objects in the metadata",
            hint="objects[i] must hold the confidence of annotations[i]",
        )
    class_map = meta.get("class-map", {})
    boxes = []
    for i, item in enumerate(annotations):
        what = f"annotation {i}"
        class_id = as_int(member(item, "class_id", what), f"{what}.class_id")
        if classes is not None:
            label_name = class_map.get(str(class_id)) if isinstance(class_map, dict) else None
            if label_name not in classes:
                raise FormatError(
                    f"{what}: class {class_id} ({label_name!r} in the class-map) is not one of {list(classes)}",
                    hint="add the class to the class list, or fix the class-map",
                )
            class_id = list(classes).index(label_name)
        confidence = objects[i].get("confidence") if objects and isinstance(objects[i], dict) else None
        try:
            boxes.append(
                Box(
                    class_id=class_id,
                    left=as_number(member(item, "left", what), f"{what}.left"),
                    top=as_number(member(item, "top", what), f"{what}.top"),
                    width=as_number(member(item, "width", what), f"{what}.width"),
                    height=as_number(member(item, "height", what), f"{what}.height"),
                    score=None if confidence is None else as_number(confidence, f"objects[{i}].confidence"),
                )
            )
        except InvalidRecordError as exc:
            raise FormatError(f"{what}: {exc.message}", hint=exc.hint) from exc
    return tuple(boxes)


def _verdict(meta: dict, name: str, verdicts: Mapping[str, LabelStatus]):
    label = meta.get("class-name")
    status = {k.lower(): v for k, v in verdicts.items()}.get(label.lower()) if isinstance(label, str) else None
    if status is None:
        raise FormatError(
            f"verification {name!r} says {label!r}, which no verdict maps to a status",
            hint=f"map it with verdicts=...; known: {sorted(verdicts)}",
        )
    return status, extras.parse_time(member(meta, "creation-date", f"{name}-metadata"), what="creation-date")


def draft_to_entry(draft: LabelDraft, *, classes: Sequence[str], attribute: str = DEFAULT_ATTRIBUTE) -> dict:
    """One manifest line (as a dict) for ``draft``; raises FormatError for a class without a name."""
    used = sorted({b.class_id for b in draft.annotations})
    unnamed = [c for c in used if c >= len(classes)]
    if unnamed:
        raise FormatError(
            f"{draft.image_ref}: class id(s) {unnamed} have no name in {list(classes)}",
            hint="pass classes naming every class id",
        )
    return {
        "source-ref": draft.image_ref,
        attribute: {
            "image_size": [{"width": draft.image_width, "height": draft.image_height, "depth": draft.image_depth}],
            "annotations": [
                {
                    "class_id": b.class_id,
                    "left": extras.number(b.left),
                    "top": extras.number(b.top),
                    "width": extras.number(b.width),
                    "height": extras.number(b.height),
                }
                for b in draft.annotations
            ],
        },
        f"{attribute}-metadata": {
            "objects": [{} if b.score is None else {"confidence": b.score} for b in draft.annotations],
            "class-map": {str(c): classes[c] for c in used},
            "type": BOX_TYPE,
            "human-annotated": "no" if draft.source is LabelSource.MODEL else "yes",
            "creation-date": utc(draft.event_time).replace(tzinfo=None).isoformat(timespec="microseconds"),
            "job-name": draft.labeling_job,
        },
        extras.EXTRA_KEY: extras.provenance(draft),
    }


def dumps(drafts: Iterable[LabelDraft], *, classes: Sequence[str], attribute: str = DEFAULT_ATTRIBUTE) -> str:
    """Render drafts as manifest text, one compact JSON object per line."""
    return "".join(
        json.dumps(draft_to_entry(d, classes=classes, attribute=attribute), separators=(",", ":"), ensure_ascii=False)
        + "\n"
        for d in drafts
    )


def read(path: str | Path, **options: Any) -> ParseResult:
    """Parse a manifest file (UTF-8, a regular file within the size limit); ``options`` as for :func:`loads`."""
    return loads(read_text(path), source=str(path), **options)


def write(path: str | Path, drafts: Iterable[LabelDraft], **options: Any) -> Path:
    """Write drafts to ``path`` as a manifest; ``options`` as for :func:`dumps`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(drafts, **options), encoding="utf-8", newline="")
    return path
