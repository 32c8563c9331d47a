"""The label store's queries as pure functions on polars frames.

The central one is the feature-store query: for every image, the record with the
latest ``event_time`` (ties broken by the later ``write_time``, then the larger
``record_id``), then keep those with the wanted status. It is computed on integer
keys only: rows are ordered by (hash of image, event_time, write_time) and the
last row of each image wins; the rare images whose top ``event_time`` holds more
than one row (ties, or copies of one record from racing retries) are resolved
exactly on record ids. Two images sharing a hash are detected and handled.

Copies of one ``record_id`` can exist physically (two retries racing); logically
there is one record, written at its earliest ``write_time``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

RANK_COLUMNS = ("record_id", "image_sha256", "event_time", "write_time", "status")


def known_at(as_of: datetime) -> pl.Expr:
    """Rows the store knew at ``as_of`` about moments up to ``as_of``."""
    return (pl.col("write_time") <= as_of) & (pl.col("event_time") <= as_of)


def dedupe(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per ``record_id``: the earliest written copy. For small frames."""
    if frame.height == 0:
        return frame
    return frame.sort("write_time", "record_id", maintain_order=True).unique(
        subset="record_id", keep="first", maintain_order=True
    )


def latest(frame: pl.DataFrame, status: str | None = "APPROVED", *, key: pl.Expr | None = None) -> pl.DataFrame:
    """The latest record per image (``frame`` needs :data:`RANK_COLUMNS`), in storage order.

    Args:
        frame: rows of the store, already restricted to what is known at the moment asked.
        status: keep only images whose latest record has this status; ``None`` keeps all.
        key: the 64-bit image key to rank on (default: a hash of ``image_sha256``).
            Two images sharing a key are detected (a second, independent hash
            differs between neighbours) and the ranking is redone on an exact key.
    """
    if frame.height == 0:
        return frame
    mask = np.zeros(frame.height, dtype=bool)
    mask[_winners(frame, pl.col("image_sha256").hash() if key is None else key).to_numpy()] = True
    if status is not None:
        mask &= (frame["status"] == status).to_numpy()
    return frame.filter(pl.Series(mask))


def _winners(frame: pl.DataFrame, key: pl.Expr) -> pl.Series:
    """Row positions of each image's latest record."""
    keys = _ordered_keys(frame, key)
    if _collides(keys):
        keys = _ordered_keys(frame, pl.col("image_sha256").rank("dense").cast(pl.UInt64))
    same_prev = pl.col("h") == pl.col("h").shift(1)
    keys = keys.with_columns(
        last=(pl.col("h") != pl.col("h").shift(-1)).fill_null(True),
        tied=(same_prev & (pl.col("et") == pl.col("et").shift(1))).fill_null(False),
    )
    clear = keys.filter(pl.col("last") & ~pl.col("tied"))["i"]
    contested = keys.filter(pl.col("last") & pl.col("tied")).select("h", "et")
    if contested.height == 0:
        return clear
    return pl.concat([clear, _resolve_ties(frame, keys.join(contested, on=["h", "et"]))])


def _ordered_keys(frame: pl.DataFrame, key: pl.Expr) -> pl.DataFrame:
    return frame.select(
        h=key,
        check=pl.col("image_sha256").hash(seed=0x5EED),
        et="event_time",
        wt="write_time",
        i=pl.int_range(pl.len(), dtype=pl.UInt32),
    ).sort("h", "et", "wt")


def _collides(keys: pl.DataFrame) -> bool:
    """True when two different images share a key (their check hashes differ within one key)."""
    h, check = keys["h"], keys["check"]
    return bool(((h == h.shift(1)) & (check != check.shift(1))).any())


def _resolve_ties(frame: pl.DataFrame, tied: pl.DataFrame) -> pl.Series:
    """Winners among rows sharing an image's top event_time, on de-duplicated records."""
    rows = tied.with_columns(rid=frame["record_id"].gather(tied["i"]))
    first_copy = rows.sort("wt", "i").unique(subset=["h", "rid"], keep="first")
    return first_copy.sort("h", "wt", "rid").unique(subset="h", keep="last")["i"]


def order_history(frame: pl.DataFrame) -> pl.DataFrame:
    """De-duplicated records ordered by event_time, then write_time, then record_id."""
    return dedupe(frame).sort("event_time", "write_time", "record_id")
