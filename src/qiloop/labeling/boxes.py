"""Boxes to and from the JSON the service stores, checked against the image and the job's classes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from qiloop.core.errors import InvalidRecordError
from qiloop.core.records import Box

MAX_BOXES = 1000  # per image and annotator: more is a runaway client, not a label


def to_json(boxes: Iterable[Box], *, keep_score: bool = False) -> list[dict[str, Any]]:
    """Plain dicts for a JSON column (``score`` only when ``keep_score``)."""
    out = []
    for box in boxes:
        data = box.model_dump(exclude={"score"} if not keep_score else set())
        if keep_score and data.get("score") is None:
            data.pop("score", None)
        out.append(data)
    return out


def from_json(data: Iterable[dict[str, Any]] | None) -> tuple[Box, ...]:
    """Boxes from a JSON column."""
    return tuple(Box(**item) for item in data or ())


def check(boxes: Sequence[Box | dict[str, Any]], *, width: int, height: int, classes: Sequence[str]) -> tuple[Box, ...]:
    """Boxes a worker or verifier submitted, validated for this image and job.

    Raises:
        InvalidRecordError: A box is malformed, outside the image or of an unknown class.
    """
    if len(boxes) > MAX_BOXES:
        raise InvalidRecordError(
            f"{len(boxes)} boxes in one submission; at most {MAX_BOXES}", hint="submit the boxes of one image"
        )
    out = []
    for i, item in enumerate(boxes):
        box = item if isinstance(item, Box) else Box(**item)
        if box.class_id >= len(classes):
            raise InvalidRecordError(
                f"box {i} has class id {box.class_id}, but the job has {len(classes)} classes {list(classes)}",
                hint=f"use a class id from 0 to {len(classes) - 1}",
            )
        if not box.fits(width, height):
            raise InvalidRecordError(
                f"box {i} {box.xyxy} reaches outside the {width}x{height} image",
                hint="clip the box to the image",
            )
        out.append(box.model_copy(update={"score": None}))
    return tuple(out)
