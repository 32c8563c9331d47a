"""What the Data pages show: a paged thumbnail browser of the image store with label status, and one image's history.

A page joins its few rows with the latest label of every image, which is cached
per label-store version (:meth:`ConsoleSources.latest_labels`), so paging
through 10^6 images costs a top-k over the in-memory index, not a store scan.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import polars as pl

from qiloop.console.image_index import page
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


def browse(rows: pl.DataFrame, labels: pl.DataFrame, status: str, source: str, offset: int) -> tuple[list[Tile], int]:
    """One page of images newest first, with each one's label status, and how many images match.

    Args:
        rows: The image index (``image_index.image_frame``).
        labels: Each image's latest label (``image_sha256``, ``status``).
        status: Keep images whose latest label has this status (``UNLABELLED``: none); empty keeps all.
        source: Keep images from this source (``camera`` also keeps ``camera:<id>``); empty keeps all.
    """
    status = status.upper()
    if status and status not in STATUSES:
        raise ConfigurationError(f"unknown label status {status!r}", hint=f"choose one of {', '.join(STATUSES)}")
    if source:
        rows = rows.filter((pl.col("source") == source) | pl.col("source").str.starts_with(f"{source}:"))
    known = labels.select(pl.col("image_sha256").alias("sha256"), "status")
    if status == "UNLABELLED":
        rows = rows.join(known, on="sha256", how="anti")
    elif status:
        rows = rows.join(known.filter(pl.col("status") == status), on="sha256", how="semi")
    chosen = page(rows, offset, PAGE).join(known, on="sha256", how="left")
    chosen = chosen.sort(["ingested_at", "sha256"], descending=True, nulls_last=True)
    tiles = [
        Tile(r["sha256"], r["original_name"] or "unnamed image", r["width"], r["height"], r["source"] or "",
             r["status"] or "UNLABELLED")
        for r in chosen.iter_rows(named=True)
    ]  # fmt: skip
    return tiles, rows.height


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
