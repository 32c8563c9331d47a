"""Review tables: each item round's consolidated boxes, and the verifier's decision on them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qiloop.labeling.db import Base, UtcDateTime


class Decision(str, Enum):
    APPROVE = "approve"
    ADJUST = "adjust"
    REJECT = "reject"


class ConsolidatedResult(Base):
    """The consolidation of one item's round: boxes with their annotators and support, and the agreement."""

    __tablename__ = "consolidated_results"
    __table_args__ = (UniqueConstraint("item_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("job_items.id"))
    round: Mapped[int] = mapped_column(Integer)
    boxes: Mapped[list] = mapped_column(JSON)
    annotators: Mapped[list] = mapped_column(JSON)
    weights: Mapped[dict] = mapped_column(JSON)
    agreement: Mapped[float] = mapped_column(Float, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VerificationDecision(Base):
    """A verifier's decision on one item's round; approvals carry the final boxes and, once written, the record id."""

    __tablename__ = "verification_decisions"
    __table_args__ = (UniqueConstraint("item_id", "round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("job_items.id"))
    round: Mapped[int] = mapped_column(Integer)
    verifier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    boxes: Mapped[list | None] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime)
    record_id: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
