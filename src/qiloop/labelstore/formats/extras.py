"""qiloop's own fields, carried inside foreign label formats.

Ground Truth manifests and COCO files have no place for a label's status or
provenance. Both tolerate extra keys (Ground Truth copies unknown keys of a
manifest line through its jobs; COCO readers ignore unknown keys), so qiloop
writes those fields under one ``"qiloop"`` key and reads them back: an export
followed by an import loses nothing. Files without the key get the defaults.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from qiloop.core.errors import FormatError
from qiloop.core.records import LabelSource, LabelStatus, utc
from qiloop.labelstore.formats.draft import LabelDraft

EXTRA_KEY = "qiloop"


def provenance(draft: LabelDraft, *, with_time: bool = False) -> dict[str, Any]:
    """The draft's status and provenance as a JSON-ready dict.

    Args:
        draft: The label to describe.
        with_time: Also carry ``event_time``, ``labeling_job`` and ``depth``
            (for formats that have no field of their own for them).
    """
    out: dict[str, Any] = {}
    if with_time:
        out["event_time"] = format_time(draft.event_time)
        out["labeling_job"] = draft.labeling_job
        out["depth"] = draft.image_depth
    out["status"] = draft.status.value
    out["source"] = draft.source.value
    if draft.annotators:
        out["annotators"] = list(draft.annotators)
    if draft.agreement is not None:
        out["agreement"] = draft.agreement
    if draft.verifier is not None:
        out["verifier"] = draft.verifier
    return out


def parse_provenance(value: Any) -> dict[str, Any]:
    """``LabelDraft`` keyword arguments from a ``"qiloop"`` dict (only the keys present).

    Raises:
        FormatError: A value has the wrong type or an unknown status/source.
    """
    if not isinstance(value, dict):
        raise FormatError(f'"{EXTRA_KEY}" must be an object, found {type(value).__name__}')
    out: dict[str, Any] = {}
    if "event_time" in value:
        out["event_time"] = parse_time(value["event_time"], what=f"{EXTRA_KEY}.event_time")
    for key in ("labeling_job", "verifier"):
        if key in value:
            if not isinstance(value[key], str) and not (key == "verifier" and value[key] is None):
                raise FormatError(f"{EXTRA_KEY}.{key} must be a string, found {value[key]!r}")
            out[key] = value[key]
    if "depth" in value:
        if not isinstance(value["depth"], int) or isinstance(value["depth"], bool):
            raise FormatError(f"{EXTRA_KEY}.depth must be an integer, found {value['depth']!r}")
        out["image_depth"] = value["depth"]
    for key, enum in (("status", LabelStatus), ("source", LabelSource)):
        if key in value:
            try:
                out[key] = enum(value[key])
            except ValueError as exc:
                choices = ", ".join(e.value for e in enum)
                raise FormatError(f"unknown {EXTRA_KEY}.{key} {value[key]!r}", hint=f"use one of {choices}") from exc
    if "annotators" in value:
        names = value["annotators"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise FormatError(f"{EXTRA_KEY}.annotators must be a list of strings")
        out["annotators"] = tuple(names)
    if "agreement" in value:
        agreement = value["agreement"]
        if agreement is not None and (not isinstance(agreement, (int, float)) or not 0 <= agreement <= 1):
            raise FormatError(f"{EXTRA_KEY}.agreement must be a number from 0 to 1, found {agreement!r}")
        out["agreement"] = None if agreement is None else float(agreement)
    return out


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds: ``2022-07-07T12:34:56.789012+00:00``."""
    return utc(value).isoformat(timespec="microseconds")


def parse_time(value: Any, *, what: str) -> datetime:
    """Parse an ISO 8601 time (``Z`` accepted); a time without zone is taken as UTC."""
    if not isinstance(value, str):
        raise FormatError(f"{what} must be an ISO 8601 string, found {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except ValueError as exc:
        raise FormatError(f"{what} {value!r} is not an ISO 8601 time", hint="write e.g. 2022-07-07T12:34:56") from exc
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise FormatError(f"{what} {value!r} is out of range in UTC", hint="years 1 to 9999 in UTC") from exc


def number(value: float) -> int | float:
    """A pixel value as JSON writes it best: ``81`` rather than ``81.0``."""
    return int(value) if float(value).is_integer() else float(value)
