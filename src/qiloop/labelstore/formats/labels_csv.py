"""The reference ``labels.csv`` format, byte for byte.

One row per labelled image::

    source_ref,image_width,image_height,image_depth,annotations,event_time,labeling_job,status
    s3://${bucket}/pipeline/assets/images/a.jpg,450,300,3,"[{'class_id': 0, 'top': 123, ...}]",1657199072.0,job,APPROVED

``annotations`` is a Python literal (single quotes) of pixel boxes, ``event_time``
Unix seconds. :func:`loads` and :func:`dumps` are pure; :func:`read` and
:func:`write` are the file shells. :func:`map_prefix` maps ``s3://...`` references
onto a local folder.
"""

from __future__ import annotations

import ast
import csv
import io
import math
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from qiloop.core.errors import FormatError, InvalidRecordError
from qiloop.core.records import Box, LabelStatus
from qiloop.labelstore.formats.draft import LabelDraft, ParseResult
from qiloop.labelstore.formats.textfile import read_text

COLUMNS = (
    "source_ref",
    "image_width",
    "image_height",
    "image_depth",
    "annotations",
    "event_time",
    "labeling_job",
    "status",
)
BOX_KEYS = ("class_id", "top", "left", "height", "width")
_HINT_ROW = {
    f"field larger than field limit ({csv.field_size_limit()})": "a cell this long is no box list: "
    "check the row's quoting (an unclosed quote swallows the lines after it)"
}
REFERENCE_PREFIX = "s3://${bucket}/pipeline/assets/"


def loads(text: str, *, source: str = "labels.csv") -> ParseResult:
    """Parse labels.csv text into drafts; bad rows become line-numbered errors."""
    result = ParseResult()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        result.errors.append(FormatError(f"unreadable header: {exc}", source=source, line=1))
        return result
    if header is None:
        result.errors.append(
            FormatError("the file is empty", source=source, hint=f"expected the header {','.join(COLUMNS)}")
        )
        return result
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        result.errors.append(
            FormatError(
                f"missing column(s) {', '.join(missing)}",
                source=source,
                line=1,
                hint=f"the header must name {','.join(COLUMNS)}",
            )
        )
        return result
    index = {name: header.index(name) for name in COLUMNS}
    while True:
        line = reader.line_num + 1  # where the next row starts (a quoted field may span lines)
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(): this row only
            result.errors.append(
                FormatError(f"unreadable row: {exc}", source=source, line=line, hint=_HINT_ROW.get(str(exc)))
            )
            continue
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            result.errors.append(
                FormatError(
                    f"expected {len(header)} fields, found {len(row)}",
                    source=source,
                    line=line,
                    hint="quote the annotations field; it contains commas",
                )
            )
            continue
        fields = {name: row[i] for name, i in index.items()}
        try:
            result.drafts.append(_draft(fields, line))
        except (FormatError, InvalidRecordError) as exc:
            result.errors.append(FormatError(exc.message, source=source, line=line, hint=exc.hint))
    return result


def _draft(fields: dict[str, str], line: int) -> LabelDraft:
    try:
        width, height, depth = (int(fields[k]) for k in ("image_width", "image_height", "image_depth"))
    except ValueError as exc:
        raise FormatError(f"image size is not an integer: {exc}") from exc
    try:
        seconds = float(fields["event_time"])
    except ValueError as exc:
        raise FormatError(f"event_time {fields['event_time']!r} is not Unix seconds") from exc
    if not math.isfinite(seconds):
        raise FormatError(f"event_time {fields['event_time']!r} is not a finite number")
    try:
        event_time = datetime.fromtimestamp(round(seconds, 6), tz=timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise FormatError(
            f"event_time {fields['event_time']!r} is out of range ({exc})",
            hint="give Unix seconds such as 1657199072.0 (at most 253402300799, the end of year 9999)",
        ) from exc
    try:
        status = LabelStatus(fields["status"])
    except ValueError as exc:
        choices = ", ".join(s.value for s in LabelStatus)
        raise FormatError(f"unknown status {fields['status']!r}", hint=f"use one of {choices}") from exc
    if not fields["source_ref"]:
        raise FormatError("source_ref is empty")
    return LabelDraft(
        image_ref=fields["source_ref"],
        image_width=width,
        image_height=height,
        image_depth=depth,
        annotations=parse_annotations(fields["annotations"]),
        event_time=event_time,
        labeling_job=fields["labeling_job"],
        status=status,
        line=line,
    )


def parse_annotations(text: str) -> tuple[Box, ...]:
    """Parse the Python-literal box list; never evaluates code."""
    try:
        value = ast.literal_eval(text.strip() or "[]")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise FormatError(
            f"annotations are not a Python literal list: {text[:60]!r}",
            hint="write them as [{'class_id': 0, 'top': y, 'left': x, 'height': h, 'width': w}, ...]",
        ) from exc
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise FormatError("annotations must be a list of dicts")
    boxes = []
    for i, item in enumerate(value):
        missing = [k for k in BOX_KEYS if k not in item]
        if missing:
            raise FormatError(f"annotation {i} lacks {', '.join(missing)}")
        boxes.append(Box(**{k: item[k] for k in BOX_KEYS}, score=item.get("score")))
    return tuple(boxes)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def format_annotations(boxes: Iterable[Box]) -> str:
    """The reference's Python-literal form, keys in the reference's order."""
    items = []
    for b in boxes:
        item = {k: _number(getattr(b, k)) for k in BOX_KEYS}
        item["class_id"] = b.class_id
        if b.score is not None:
            item["score"] = b.score
        items.append(item)
    return repr(items)


def dumps(drafts: Iterable[LabelDraft]) -> str:
    """Render drafts as labels.csv text (CRLF rows, minimal quoting, like the reference)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for d in drafts:
        writer.writerow(
            [
                d.image_ref,
                d.image_width,
                d.image_height,
                d.image_depth,
                format_annotations(d.annotations),
                repr(round(d.event_time.timestamp(), 6)),
                d.labeling_job,
                d.status.value,
            ]
        )
    return out.getvalue()


def map_prefix(ref: str, prefix: str, root: str | Path) -> str:
    """Map a reference such as ``s3://${bucket}/pipeline/assets/images/a.jpg`` onto ``root``.

    References without ``prefix`` are returned unchanged (relative ones are
    joined to ``root``).
    """
    if prefix and ref.startswith(prefix):
        return str(Path(root) / ref[len(prefix) :])
    if "://" not in ref and not Path(ref).is_absolute():
        return str(Path(root) / ref)
    return ref


def read(path: str | Path) -> ParseResult:
    """Parse a labels.csv file (UTF-8, optional BOM; a regular file within the size limit)."""
    return loads(read_text(path), source=str(path))


def write(path: str | Path, drafts: Iterable[LabelDraft]) -> Path:
    """Write drafts to ``path`` as labels.csv."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(drafts), encoding="utf-8", newline="")
    return path
