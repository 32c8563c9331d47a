"""Vectorised checks for rows that arrive as an Arrow table instead of records.

The columnar path (:meth:`LabelStore.append_table`) skips building pydantic
objects for speed, so it must enforce the same invariants as
:class:`~qiloop.core.records.LabelRecord`, row by row: bad rows are reported with
their position and reason, good rows go on.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qiloop.core.errors import InvalidRecordError
from qiloop.core.records import LabelSource, LabelStatus
from qiloop.labelstore.schema import SCHEMA

REQUIRED = ("record_id", "image_uri", "image_sha256", "image_width", "image_height", "image_depth", "event_time")
_DEFAULTS = {
    "annotations": [],
    "labeling_job": "",
    "status": LabelStatus.APPROVED.value,
    "annotators": [],
    "agreement": None,
    "verifier": None,
    "source": LabelSource.IMPORT.value,
    "write_time": None,
}
_EPS = 1e-6


def prepare(table: pa.Table) -> tuple[pa.Table, list[str]]:
    """Rows of ``table`` cast to the store's schema, minus invalid rows, and one message per bad row.

    Optional columns that are missing get the record defaults; ``write_time`` is
    left for the store to set.

    Raises:
        InvalidRecordError: a required column is missing or a column has an unusable type.
    """
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise InvalidRecordError(
            f"label rows lack the column(s) {', '.join(missing)}",
            hint=f"every row needs {', '.join(REQUIRED)}; record_id may be LabelRecord.content_id()",
        )
    columns = []
    for field in SCHEMA:
        if field.name in table.column_names:
            columns.append(_cast(table[field.name], field))
        else:
            value = _DEFAULTS[field.name]
            columns.append(pa.chunked_array([pa.array([value] * table.num_rows, field.type)]))
    loose = pa.schema([f.with_nullable(True) for f in SCHEMA])
    rows = pa.Table.from_arrays([c.combine_chunks() for c in columns], schema=loose)
    bad = _problems(rows)
    keep = np.array([not reasons for reasons in bad], dtype=bool)
    ids = rows["record_id"].to_pylist()
    errors = [f"row {i} (record_id {ids[i]!r}): {'; '.join(r)}" for i, r in enumerate(bad) if r]
    return rows.filter(pa.array(keep)), errors


def _cast(column: pa.ChunkedArray, field: pa.Field) -> pa.ChunkedArray:
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidRecordError(
            f"column {field.name!r} of type {column.type} cannot be read as {field.type}: {exc}",
            hint="convert the column to the label store's type (see qiloop.labelstore.schema.SCHEMA)",
        ) from exc


def _problems(rows: pa.Table) -> list[list[str]]:
    n = rows.num_rows
    bad: list[list[str]] = [[] for _ in range(n)]

    def flag(mask, reason: str) -> None:
        if not isinstance(mask, np.ndarray):
            mask = np.asarray(pc.fill_null(mask, True))
        for i in np.flatnonzero(mask):
            bad[i].append(reason)

    col = rows.column
    for name in [*REQUIRED, "annotations", "labeling_job", "status", "annotators", "source"]:
        flag(pc.is_null(col(name)), f"{name} is missing")
    flag(pc.equal(col("record_id"), ""), "record_id is empty")
    flag(pc.equal(col("image_uri"), ""), "image_uri is empty")
    flag(
        pc.invert(pc.match_substring_regex(col("image_sha256"), r"^[0-9a-f]{64}$")), "image_sha256 is not 64 hex digits"
    )
    for name in ("image_width", "image_height"):
        flag(pc.less_equal(col(name), 0), f"{name} must be > 0")
    flag(pc.or_(pc.less(col("image_depth"), 1), pc.greater(col("image_depth"), 4)), "image_depth must be 1..4")
    flag(pc.invert(pc.is_in(col("status"), pa.array([s.value for s in LabelStatus]))), "unknown status")
    flag(pc.invert(pc.is_in(col("source"), pa.array([s.value for s in LabelSource]))), "unknown source")
    agreement = col("agreement")
    flag(pc.and_(pc.is_valid(agreement), _outside(agreement, 0.0, 1.0)), "agreement must be within 0..1")
    names = pc.list_flatten(col("annotators"))
    if len(names):
        flag(_per_row(pc.is_null(names), pc.list_parent_indices(col("annotators")), n), "an annotator is missing")
    _check_boxes(rows, flag)
    return bad


def _check_boxes(rows: pa.Table, flag) -> None:
    ann = rows.column("annotations").combine_chunks()
    boxes = pc.list_flatten(ann)
    if len(boxes) == 0:
        return
    parent = pc.list_parent_indices(ann)
    n = rows.num_rows
    f = {name: boxes.field(name) for name in ("class_id", "left", "top", "width", "height", "score")}
    width = pc.take(rows.column("image_width"), parent)
    height = pc.take(rows.column("image_height"), parent)
    score = f["score"]
    checks = [
        (pc.less(f["class_id"], 0), "a box has class_id < 0"),
        (
            pc.invert(pc.and_(pc.greater_equal(f["left"], 0), pc.greater_equal(f["top"], 0))),
            "a box starts left of or above the image",
        ),
        (pc.invert(pc.and_(pc.greater(f["width"], 0), pc.greater(f["height"], 0))), "a box has no area"),
        (
            pc.greater(pc.add(f["left"], f["width"]), pc.add(pc.cast(width, pa.float64()), _EPS)),
            "a box reaches past the right edge",
        ),
        (
            pc.greater(pc.add(f["top"], f["height"]), pc.add(pc.cast(height, pa.float64()), _EPS)),
            "a box reaches past the bottom edge",
        ),
        (pc.and_(pc.is_valid(score), _outside(score, 0.0, 1.0)), "a box score is outside 0..1"),
    ]
    for mask, reason in checks:
        flag(_per_row(mask, parent, n), reason)


def _outside(values, low: float, high: float):
    inside = pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))
    return pc.invert(pc.fill_null(inside, True))


def _per_row(mask, parent, n: int) -> np.ndarray:
    """Any-true of a per-element mask, gathered onto the rows the elements belong to."""
    out = np.zeros(n, dtype=bool)
    hits = np.asarray(pc.fill_null(mask, True))
    out[np.asarray(parent)[hits]] = True
    return out
