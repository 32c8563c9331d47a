"""Typed access to parsed JSON, with errors that name the missing or bad field.

JSON label formats (Ground Truth, COCO) arrive as plain dicts and lists; these
helpers turn a missing key or a string where a number belongs into a
:class:`FormatError` that says which field, instead of a ``KeyError``.
"""

from __future__ import annotations

import math
from typing import Any

from qiloop.core.errors import FormatError


def member(obj: Any, key: str, what: str) -> Any:
    """``obj[key]``, or a FormatError naming ``what`` when absent or ``obj`` is no object."""
    if not isinstance(obj, dict):
        raise FormatError(f"{what} must be an object, found {type(obj).__name__}")
    if key not in obj:
        raise FormatError(f"{what} lacks {key!r}")
    return obj[key]


def as_list(value: Any, what: str) -> list:
    """``value`` if it is a JSON array."""
    if not isinstance(value, list):
        raise FormatError(f"{what} must be a list, found {type(value).__name__}")
    return value


def as_number(value: Any, what: str) -> float:
    """``value`` as a finite float (JSON numbers only; booleans and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FormatError(f"{what} must be a number, found {value!r}")
    return float(value)


def as_int(value: Any, what: str) -> int:
    """``value`` as an int; a float is accepted only when it is whole (``3.0``)."""
    number = as_number(value, what)
    if not number.is_integer():
        raise FormatError(f"{what} must be a whole number, found {value!r}")
    return int(number)
