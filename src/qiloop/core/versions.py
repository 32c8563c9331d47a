"""Component versions and the ranges a dependency accepts.

Versions are dotted non-negative integers (``3``, ``1.4.0``); a missing part
counts as 0, so ``1.4`` == ``1.4.0``. Model components take the registry's
version number (``3``); inference components take the code's release
(``0.2.1``). A range is a comma-separated list of comparisons that must all
hold (``>=3``, ``>=1.2,<2``), a caret range (``^1.2`` = ``>=1.2,<2``), an exact
version (``==3`` or just ``3``) or ``*`` (any).

Example:
    >>> satisfies("3", ">=2,<5"), satisfies("1.4.2", "^1.4"), satisfies("2.0", "^1.4")
    (True, True, False)
"""

from __future__ import annotations

import operator
import re
from functools import total_ordering

from qiloop.core.errors import InvalidRecordError

_VERSION = re.compile(r"^\d+(\.\d+)*$")
_CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<|\^)?\s*(\d+(?:\.\d+)*)$")
_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}


@total_ordering
class Version:
    """A dotted version compared part by part as integers (``1.10`` > ``1.9``)."""

    __slots__ = ("parts", "text")

    def __init__(self, text: str | int) -> None:
        text = str(text).strip()
        if not _VERSION.match(text):
            raise InvalidRecordError(
                f"not a version: {text!r}", hint="write versions as dotted integers, e.g. 3 or 1.4.0"
            )
        parts = [int(p) for p in text.split(".")]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        self.text, self.parts = text, tuple(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.parts == other.parts

    def __lt__(self, other: Version) -> bool:
        return self.parts < other.parts

    def __hash__(self) -> int:
        return hash(self.parts)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def check_range(spec: str) -> str:
    """Validate a range and return it unchanged (for pydantic validators)."""
    _clauses(spec)
    return spec


def satisfies(version: str | int | Version, spec: str) -> bool:
    """Whether ``version`` lies in the range ``spec``.

    Raises:
        InvalidRecordError: The version or the range is malformed.
    """
    v = version if isinstance(version, Version) else Version(version)
    return all(test(v, bound) for test, bound in _clauses(spec))


def _clauses(spec: str) -> list[tuple]:
    spec = spec.strip()
    if spec in ("*", ""):
        return []
    clauses = []
    for raw in spec.split(","):
        match = _CLAUSE.match(raw.strip())
        if not match:
            raise InvalidRecordError(
                f"not a version range: {spec!r} (at {raw.strip()!r})",
                hint="write e.g. >=3, >=1.2,<2, ^1.2, ==4 or *",
            )
        op, bound = match.group(1) or "==", Version(match.group(2))
        if op == "^":
            upper = Version(".".join(str(p) for p in _caret_upper(bound.parts)))
            clauses += [(operator.ge, bound), (operator.lt, upper)]
        else:
            clauses.append((_OPS[op], bound))
    return clauses


def _caret_upper(parts: tuple[int, ...]) -> tuple[int, ...]:
    """The first version a caret range excludes: bump the leftmost non-zero part."""
    for i, p in enumerate(parts):
        if p != 0:
            return (*parts[:i], p + 1)
    return (*parts[:-1], parts[-1] + 1)
