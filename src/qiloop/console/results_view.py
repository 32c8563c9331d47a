"""What the Results page shows: the newest inspection results, filtered, each with its boxes over its image.

Pages come from the results store's keyset paging (:meth:`ResultsDB.page`): the
link to older results carries the last row shown, so page 100 costs what page 1
does. Devices send back only the images they were unsure of (feedback), so a
result's image is in the image store only sometimes; without it the boxes are
drawn on an empty frame as large as they reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from qiloop.core.errors import ConfigurationError

PAGE = 24


@dataclass(frozen=True)
class ResultQuery:
    """What the page's form asks for (empty fields do not filter) and where the page starts."""

    device: str = ""
    verdict: str = ""
    model_version: str = ""
    since: datetime | None = None
    until: datetime | None = None
    after: str = ""  # the encoded cursor of the last row of the previous page

    @classmethod
    def parse(cls, device: str, verdict: str, model_version: str, since: str, until: str, after: str) -> ResultQuery:
        """From query parameters; a bad time, verdict or cursor is a :class:`ConfigurationError` saying what to send."""
        if verdict not in ("", "pass", "fail"):
            raise ConfigurationError(f"unknown verdict {verdict!r}", hint="choose pass, fail or leave it empty")
        wanted = cls(device.strip(), verdict, model_version.strip(), _time(since, "from"), _time(until, "to"), after)
        wanted.cursor()  # refuse a damaged link now, with a message
        return wanted

    def where(self):
        """The results store's filter."""
        from qiloop.fleet.results_query import ResultFilter

        return ResultFilter(
            (self.device,) if self.device else (), self.verdict or None, self.model_version or None,
            self.since, self.until,
        )  # fmt: skip

    def cursor(self):
        """The decoded ``after`` cursor, or None for the first page."""
        if not self.after:
            return None
        from qiloop.fleet.results_query import Cursor

        try:
            return Cursor.decode(self.after)
        except ValueError as exc:
            raise ConfigurationError("the page link is damaged", hint="start again from the Results page") from exc

    def link(self, after: str = "") -> dict[str, str]:
        """The query parameters of this filter (for a page link starting after ``after``)."""
        params = {"device": self.device, "verdict": self.verdict, "model_version": self.model_version,
                  "since": _text(self.since), "until": _text(self.until), "after": after}  # fmt: skip
        return {k: v for k, v in params.items() if v}


def _text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value else ""


def _time(text: str, field: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"{field} {text!r} is not a time", hint="use ISO 8601, e.g. 2026-12-03T12:00 (UTC when no zone is given)"
        ) from exc
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Card:
    """One result ready to draw: its frame size, whether its image is stored, and its boxes."""

    result: Any  # InferenceResult
    name: str  # the image's file name (the stored one when the store holds the image)
    received_at: datetime
    width: float
    height: float
    stored: bool


def results_page(results_db, find: Callable[[str], Any], wanted: ResultQuery) -> tuple[list[Card], str]:
    """One page of matching results, newest first, and the cursor of the next page ("" on the last)."""
    from qiloop.fleet.results_db import stored_results

    page = results_db.page(wanted.where(), PAGE, wanted.cursor())
    cards = []
    for s in stored_results(page):
        record = find(s.message.image_sha256) if s.message.image_sha256 else None
        boxes = s.message.detections
        if record is not None:
            width, height = record.width, record.height
        else:
            width = max([b.left + b.width for b in boxes] + [64.0])
            height = max([b.top + b.height for b in boxes] + [48.0])
        name = (record.original_name if record is not None else "") or s.message.image_name
        cards.append(Card(s.message, name, s.received_at, width, height, record is not None))
    return cards, page.next.encode() if page.next is not None else ""
