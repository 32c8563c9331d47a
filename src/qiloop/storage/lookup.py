"""The index's rows in memory: one row per sha256, found by binary search.

Pure in-memory structures, no I/O. Rows arrive in batches (one per Delta data
file); a batch must not cost a re-sort of all 10^6 rows, so rows live in two
sorted levels: a large ``base`` and a small ``delta``. New rows merge into the
delta; when the delta outgrows an eighth of the base it is folded in. A lookup
searches both levels.

"First" row per sha256 (when racing writers appended the same image twice) means
the earliest ``ingested_at``, then source, then name: every reader, whatever
order it read the files in, picks the same row.
"""

from __future__ import annotations

import numpy as np
import polars as pl

ORDER = ["sha256", "ingested_at", "source", "original_name"]
KEY_DIGITS = 15  # leading hex digits of a sha256 that fit an int64
_MIN_FOLD = 50_000


def first_per_sha(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per sha256 (the first in :data:`ORDER`), sorted by sha256."""
    return frame.sort(ORDER, nulls_last=True).unique(subset="sha256", keep="first", maintain_order=True)


def prefix_keys(shas: pl.Series) -> np.ndarray:
    """int64 keys from the leading hex digits; sorted shas give sorted keys (same length, lower-case)."""
    return shas.str.slice(0, KEY_DIGITS).str.to_integer(base=16).to_numpy()


class SortedRows:
    """Rows sorted by sha256 with one row per sha, searchable by NumPy binary search.

    Args:
        frame: Output of :func:`first_per_sha`.
    """

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self._sha = frame["sha256"]
        self._keys = prefix_keys(self._sha)

    def __len__(self) -> int:
        return self.frame.height

    def position(self, sha256: str) -> int | None:
        """Row number of ``sha256``, or None."""
        try:
            key = int(sha256[:KEY_DIGITS], 16)
        except ValueError:
            return None
        pos = int(np.searchsorted(self._keys, key))
        while pos < len(self._keys) and self._keys[pos] == key:
            if self._sha[pos] == sha256:
                return pos
            pos += 1
        return None

    def holds_any(self, shas: pl.Series) -> bool:
        """True when any of ``shas`` is already here (vectorised: one search for the whole batch)."""
        if not len(self) or not len(shas):
            return False
        keys = prefix_keys(shas)
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        candidates = np.flatnonzero(self._keys[pos] == keys)
        return any(self.position(shas[int(i)]) is not None for i in candidates)


class RowSet:
    """All the index's rows, de-duplicated, in a large and a small sorted level.

    Args:
        empty: A zero-row frame with the index's schema.
    """

    def __init__(self, empty: pl.DataFrame) -> None:
        self._empty = empty.clear()
        self._base = SortedRows(self._empty)
        self._delta = SortedRows(self._empty)

    def __len__(self) -> int:
        return len(self._base) + len(self._delta)

    @property
    def frame(self) -> pl.DataFrame:
        """Every image's row (not in any particular order)."""
        return pl.concat([self._base.frame, self._delta.frame]) if len(self._delta) else self._base.frame

    def add(self, rows: pl.DataFrame) -> None:
        """Take in a batch of rows, keeping the first row of each sha256."""
        rows = first_per_sha(rows)
        if self._base.holds_any(rows["sha256"]):
            # The same image again (a racing writer, or files rewritten by compaction):
            # rebuild so that the first row wins whichever level holds it. Rare.
            self._base = SortedRows(first_per_sha(pl.concat([self._base.frame, self._delta.frame, rows])))
            self._delta = SortedRows(self._empty)
            return
        merged = first_per_sha(pl.concat([self._delta.frame, rows])) if len(self._delta) else rows
        if len(merged) <= max(_MIN_FOLD, len(self._base) // 8):
            self._delta = SortedRows(merged)
            return
        folded = first_per_sha(pl.concat([self._base.frame, merged])) if len(self._base) else merged
        self._base, self._delta = SortedRows(folded), SortedRows(self._empty)

    def row(self, sha256: str) -> dict | None:
        """The row of ``sha256`` as a dict, or None."""
        for level in (self._base, self._delta):
            pos = level.position(sha256)
            if pos is not None:
                return level.frame.row(pos, named=True)
        return None
