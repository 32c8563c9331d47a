"""Typed access to parsed JSON, with errors that name the missing or bad field.

JSON label formats (Ground Truth, COCO) arrive as plain dicts and lists; these
helpers turn a missing key or a string where a number belongs into a
:class:`FormatError` that says which field, instead of a ``KeyError``.
:func:`loads_json` parses only text whose nesting is bounded, so a line nested
100,000 levels deep is one refused entry, not a ``RecursionError``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

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


INT32 = (-(2**31), 2**31 - 1)


def as_int(value: Any, what: str) -> int:
    """``value`` as an int32 (the label store's integer type); a float only when it is whole (``3.0``)."""
    number = as_number(value, what)
    if not number.is_integer():
        raise FormatError(f"{what} must be a whole number, found {value!r}")
    if not INT32[0] <= number <= INT32[1]:
        raise FormatError(
            f"{what} {value!r} is out of range: the label store keeps it as a 32-bit integer",
            hint=f"whole numbers from {INT32[0]:,} to {INT32[1]:,}",
        )
    return int(number)


MAX_JSON_DEPTH = 64
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text`` (brackets inside strings do not count).

    Runs in C-level regex passes and one NumPy sum, so it is cheap next to
    ``json.loads`` and safe on input that would exhaust a recursive parser.

    Example:
        >>> json_depth('{"a": [1, {"b": "[["}]}')
        3
    """
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max())


def loads_json(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)`` after checking its nesting against ``max_depth``.

    Raises:
        FormatError: The text nests deeper than ``max_depth`` (label formats need about 6).
        json.JSONDecodeError: The text is not JSON.
    """
    depth = json_depth(text)
    if depth > max_depth:
        raise FormatError(
            f"JSON nested {depth:,} levels deep; label files nest a few levels and at most {max_depth} are read",
            hint="this is not a label file, or it was damaged: check what wrote it",
        )
    try:
        return json.loads(text)
    except RecursionError:  # unreachable within max_depth, kept so no input can escape as a traceback
        raise FormatError(f"JSON nested too deeply to parse (limit {max_depth})") from None
