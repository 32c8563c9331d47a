"""Deterministic train/validation/test assignment by group.

A group (for the metal tags: the original photo, shared by its four crops) is
hashed into ``[0, 1)``; the split is the interval the hash falls in. The hash
depends only on the group key and a salt, so adding images never moves an
existing group to another split, and test figures stay comparable between
dataset versions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping

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


def fold_of(groups: Iterable[str], folds: int, salt: str = "") -> dict[str, int]:
    """Each group's fold, ``0 .. folds - 1``, for cross-validation grouped by photo.

    Groups are ordered by :func:`unit_hash` and dealt out in turn, so fold sizes
    (in groups) differ by at most one and a group's fold depends only on the set
    of groups and the salt, never on the order they are given in.

    Raises:
        ConfigurationError: fewer than 2 folds, or fewer groups than folds.
    """
    unique = sorted(set(groups), key=lambda g: (unit_hash(g, salt), g))
    if folds < 2:
        raise ConfigurationError(f"{folds} folds: cross-validation needs at least 2", hint="use --folds 3 or 5")
    if len(unique) < folds:
        raise ConfigurationError(
            f"{len(unique)} image groups cannot fill {folds} folds",
            hint="label images from more groups (photos), or use fewer folds",
        )
    return {group: index % folds for index, group in enumerate(unique)}


def fold_assigner(folds: Mapping[str, int], test_fold: int, val_share: float = 0.125) -> Callable[[str], str]:
    """The split of each group in one round of cross-validation.

    The groups of ``test_fold`` are the test split; of the others, a stable
    ``val_share`` (by :func:`unit_hash` salted with the round) validates, and the
    rest trains. Every group is tested exactly once over the rounds.
    """
    if not 0 < val_share < 1:
        raise ConfigurationError(f"validation share {val_share} must be between 0 and 1", hint="for example 0.125")
    ratios = {"train": 1 - val_share, "val": val_share}

    def assign(group: str) -> str:
        if group not in folds:
            raise ConfigurationError(f"image group {group!r} has no fold", hint="assign folds over every group")
        return "test" if folds[group] == test_fold else split_of(group, ratios, salt=f"fold-{test_fold}")

    return assign
