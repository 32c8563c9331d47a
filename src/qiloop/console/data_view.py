"""What the Data pages show: a paged thumbnail browser of the image store with label status, and one image's history.

The images in order with their label status are computed once per index size
and label-store version (:meth:`ConsoleSources.browse_frame`), so a page costs
a filter and a slice of that frame, not a sort or a store scan.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import polars as pl

from qiloop.core.errors import ConfigurationError

PAGE = 48
STATUSES = ("APPROVED", "PENDING_VERIFICATION", "REJECTED", "UNLABELLED")
THUMB_PX = 160


@dataclass(frozen=True)
class Tile:
    sha256: str
    name: str
    width: int
    height: int
    source: str
    status: str  # a label status, or UNLABELLED


def ordered(rows: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """The image index newest first (by ingest time, then sha256) with each image's label status.

    Computed once per index size and label-store version (see :meth:`ConsoleSources.browse_frame`),
    so a page is a filter and a slice.
    """
    known = labels.select(pl.col("image_sha256").alias("sha256"), "status")
    return (
        rows.join(known, on="sha256", how="left")
        .with_columns(pl.col("status").fill_null("UNLABELLED"))
        .sort(["ingested_at", "sha256"], descending=True, nulls_last=True)
    )


def browse(frame: pl.DataFrame, status: str, source: str, offset: int) -> tuple[list[Tile], int]:
    """One page of images newest first, with each one's label status, and how many images match.

    Args:
        frame: The images in order with their status (:func:`ordered`).
        status: Keep images whose latest label has this status (``UNLABELLED``: none); empty keeps all.
        source: Keep images from this source (``camera`` also keeps ``camera:<id>``); empty keeps all.
    """
    status = status.upper()
    if status and status not in STATUSES:
        raise ConfigurationError(f"unknown label status {status!r}", hint=f"choose one of {', '.join(STATUSES)}")
    if source:
        frame = frame.filter((pl.col("source") == source) | pl.col("source").str.starts_with(f"{source}:"))
    if status:
        frame = frame.filter(pl.col("status") == status)
    tiles = [
        Tile(r["sha256"], r["original_name"] or "unnamed image", r["width"], r["height"], r["source"] or "",
             r["status"])
        for r in frame.slice(offset, PAGE).iter_rows(named=True)
    ]  # fmt: skip
    return tiles, frame.height


class Thumbnails:
    """Small JPEG previews, made on first request and kept (bounded; images are content-addressed, never stale)."""

    def __init__(self, size: int = THUMB_PX, keep: int = 2048) -> None:
        self.size, self.keep = size, keep
        self._held: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str, read) -> bytes:
        """The preview of ``sha256``; ``read(sha256)`` gives ``(record, bytes)`` on a miss."""
        with self._lock:
            if sha256 in self._held:
                self._held.move_to_end(sha256)
                return self._held[sha256]
        _, data = read(sha256)
        thumb = make_thumbnail(data, self.size)
        with self._lock:
            self._held[sha256] = thumb
            while len(self._held) > self.keep:
                self._held.popitem(last=False)
        return thumb


def make_thumbnail(data: bytes, size: int) -> bytes:
    """A JPEG at most ``size`` pixels on its longer side (16-bit grey keeps its high byte)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (size, size))  # JPEG decodes at a reduced scale: far less work for large photos
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            image = image.point(lambda v: v / 256).convert("L")
        image = image.convert("RGB")
        image.thumbnail((size, size))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=80)
    return out.getvalue()
