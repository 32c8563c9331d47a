"""The gold set: images whose boxes are known, mixed into jobs to measure workers.

Gold boxes usually come from approved labels (a trusted expert's, or an import),
so the set is built from label records; a gold image keeps its sha256 as
identity, and adding one twice keeps the first.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from qiloop.core.records import LabelRecord
from qiloop.labeling import boxes as box_json
from qiloop.labeling.models import GoldItem


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
