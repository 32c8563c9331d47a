"""The gold set: images whose boxes are known, mixed into jobs to measure workers.

Gold boxes usually come from approved labels (a trusted expert's, or an import),
so the set is built from label records (see ``labeling.gold_sources``); a gold
image keeps its sha256 as identity, and adding one twice keeps the first.
Retiring one stops serving it and keeps the scores workers earned on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qiloop.core.errors import NotFoundError
from qiloop.core.records import LabelRecord
from qiloop.labeling import boxes as box_json
from qiloop.labeling.models import Annotation, GoldItem, Task


@dataclass(frozen=True)
class GoldInfo:
    """A gold image, how often workers were shown it, and how well they did on it (mean F1, None before any)."""

    sha256: str
    uri: str
    width: int
    height: int
    boxes: int
    active: bool
    created_at: datetime
    shown: int
    scored: int
    mean_f1: float | None


def add_gold(session: Session, records: Iterable[LabelRecord]) -> int:
    """Add the images and boxes of ``records`` to the gold set; returns how many were new."""
    known = set(session.scalars(select(GoldItem.image_sha256)))
    added = 0
    for record in records:
        if record.image_sha256 in known:
            continue
        known.add(record.image_sha256)
        session.add(
            GoldItem(
                image_sha256=record.image_sha256,
                image_uri=record.image_uri,
                image_width=record.image_width,
                image_height=record.image_height,
                boxes=box_json.to_json(record.annotations),
                active=True,
            )
        )
        added += 1
    session.flush()
    return added


def retire_gold(session: Session, sha256: str) -> bool:
    """Stop serving a gold image (its past scores stay); True when it was active."""
    gold = session.scalar(select(GoldItem).where(GoldItem.image_sha256 == sha256))
    if gold is None or not gold.active:
        return False
    gold.active = False
    return True


def list_gold(session: Session) -> list[GoldInfo]:
    """Every gold image, oldest first, with its showings (tasks leased) and workers' scores on it."""
    stats = {
        gold_id: (shown, scored, mean)
        for gold_id, shown, scored, mean in session.execute(
            select(Task.gold_item_id, func.count(Task.id), func.count(Annotation.id), func.avg(Annotation.gold_f1))
            .outerjoin(Annotation, Annotation.task_id == Task.id)
            .where(Task.gold_item_id.is_not(None))
            .group_by(Task.gold_item_id)
        )
    }
    out = []
    for gold in session.scalars(select(GoldItem).order_by(GoldItem.id)):
        shown, scored, mean = stats.get(gold.id, (0, 0, None))
        image = (gold.image_sha256, gold.image_uri, gold.image_width, gold.image_height)
        usage = (shown, scored, None if mean is None else float(mean))
        out.append(GoldInfo(*image, len(gold.boxes), gold.active, gold.created_at, *usage))
    return out


def find_gold(session: Session, sha256: str) -> GoldItem:
    """The gold image whose sha256 is (or starts with, at least 8 characters) ``sha256``.

    Raises:
        NotFoundError: None, or several, match.
    """
    prefix = sha256.strip().lower()
    if len(prefix) < 8:
        raise NotFoundError(
            f"{sha256!r} is too short to name a gold image", hint="give at least 8 characters of its sha256"
        )
    matches = session.scalars(select(GoldItem).where(GoldItem.image_sha256.startswith(prefix)).limit(2)).all()
    if len(matches) != 1:
        found = "no gold image" if not matches else "several gold images"
        raise NotFoundError(
            f"{found} with sha256 {sha256!r}", hint="`qiloop labeling gold ls` lists the gold images and their sha256"
        )
    return matches[0]
