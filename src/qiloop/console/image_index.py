"""The image store's rows as a frame, for counts and listings that must not build a record per image."""

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
