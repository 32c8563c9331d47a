"""The outbox's disk budget: which stored messages to drop so a new one fits, or whether to refuse it.

Pure: :class:`~qiloop.edge.inference.outbox.Outbox` calls :func:`plan_admission`
inside its write transaction with what is queued, and carries out the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

DropPolicy = Literal["oldest", "newest"]
#: Under the "oldest" policy, stale status goes first, then results, then everything else (feedback).
DROP_ORDER: Mapping[str, int] = {"status": 0, "result": 1}


@dataclass(frozen=True)
class Queued:
    """What the drop decision needs to know about a stored message."""

    sequence: int
    kind: str
    size: int


@dataclass(frozen=True)
class Admission:
    """The budget's verdict on one new message: accept it (after evicting some) or refuse it."""

    accept: bool
    evict: tuple[int, ...] = ()
    reason: str = ""


def plan_admission(queued: Iterable[Queued], used: int, size: int, max_bytes: int, policy: DropPolicy) -> Admission:
    """Decide whether a message of ``size`` bytes fits the budget, and what to evict for it.

    Under "oldest" the victims are taken by kind (:data:`DROP_ORDER`, status before
    results before the rest), oldest first within a kind; under "newest" the new
    message is refused instead.
    """
    if size > max_bytes:
        return Admission(False, reason=f"a {size}-byte message exceeds the whole {max_bytes}-byte budget")
    if used + size <= max_bytes:
        return Admission(True)
    if policy == "newest":
        return Admission(False, reason=f"the outbox holds {used} of {max_bytes} bytes (policy: refuse newest)")
    victims: list[int] = []
    for q in sorted(queued, key=lambda q: (DROP_ORDER.get(q.kind, len(DROP_ORDER)), q.sequence)):
        if used + size <= max_bytes:
            break
        victims.append(q.sequence)
        used -= q.size
    return Admission(True, evict=tuple(victims))
