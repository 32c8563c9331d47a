"""Deterministic train/validation/test assignment by group.

A group (for the metal tags: the original photo, shared by its four crops) is
hashed into ``[0, 1)``; the split is the interval the hash falls in. The hash
depends only on the group key and a salt, so adding images never moves an
existing group to another split, and test figures stay comparable between
dataset versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from qiloop.core.errors import ConfigurationError

DEFAULT_RATIOS: Mapping[str, float] = {"train": 0.8, "val": 0.1, "test": 0.1}


def unit_hash(key: str, salt: str = "") -> float:
    """A stable number in ``[0, 1)`` for ``key`` (sha256, not Python's salted ``hash``)."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_ratios(ratios: Mapping[str, float]) -> None:
    """Raise :class:`ConfigurationError` unless the ratios are non-negative and sum to 1."""
    if not ratios or any(r < 0 for r in ratios.values()) or abs(sum(ratios.values()) - 1) > 1e-9:
        raise ConfigurationError(
            f"split ratios {dict(ratios)} must be non-negative and sum to 1",
            hint="for example train=0.8, val=0.1, test=0.1",
        )


def split_of(group: str, ratios: Mapping[str, float] = DEFAULT_RATIOS, salt: str = "") -> str:
    """The split a group belongs to.

    Example:
        >>> split_of("image-2020-04-22-11-07-29-26") in {"train", "val", "test"}
        True
    """
    check_ratios(ratios)
    u = unit_hash(group, salt)
    edge = 0.0
    names = list(ratios)
    for name in names:
        edge += ratios[name]
        if u < edge:
            return name
    return names[-1]
