"""The image store's rows as a frame, for counts and paged listings that must not build a record per image."""

from __future__ import annotations

import polars as pl


def image_frame(store) -> pl.DataFrame:
    """One row per stored image (``sha256``, ``ingested_at``, ``original_name``, ``source``, sizes), current.

    Read from the store's in-memory index after taking in what other writers
    added (a refresh costs what they wrote). The image store offers no paged
    listing of its own; :meth:`ImageStore.list` builds a record per image,
    which at 10^6 images is seconds per request.
    """
    store.refresh()
    return store._index.frame


def page(frame: pl.DataFrame, offset: int, limit: int) -> pl.DataFrame:
    """Rows ``offset .. offset + limit`` newest first (by ingest time, then sha256), without sorting every row."""
    wanted = offset + limit
    top = frame.top_k(wanted, by=["ingested_at", "sha256"]) if frame.height > wanted else frame
    ordered = top.sort(["ingested_at", "sha256"], descending=True, nulls_last=True)
    return ordered.slice(offset, limit)
