"""Use case: new camera images into the image store.

Files (or folders, walked recursively) are added content-addressed; an image
already stored is a duplicate and writes nothing, so ingesting the same camera
folder twice is harmless. Refused files are counted and named, not raised.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ingested:
    """What one ingest added: the new images' sha256s, the duplicates and the refused files (with why)."""

    added: tuple[str, ...]
    duplicates: int
    rejected: tuple[str, ...]
    images_in_store: int
    seconds: float

    def metadata(self) -> dict[str, float]:
        """The numeric figures, for a run's metadata."""
        return {
            "added": len(self.added),
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "images_in_store": self.images_in_store,
            "seconds": round(self.seconds, 3),
        }


def ingest_images(images, paths: Iterable[str | Path], *, source: str = "camera", progress: bool = False) -> Ingested:
    """Add the image files at ``paths`` to ``images`` (an :class:`qiloop.storage.ImageStore`).

    Args:
        images: The image store.
        paths: Files and folders (folders are walked).
        source: Where they come from, e.g. ``camera:line-1``.
        progress: Show a progress bar on stderr.

    Raises:
        StoreError: The store's backend failed (what was written is kept; the next ingest completes it).
    """
    started = time.perf_counter()
    report = images.ingest(list(paths), source=source, progress=progress)
    return Ingested(
        added=tuple(r.sha256 for r in report.added),
        duplicates=len(report.duplicates),
        rejected=tuple(str(e) for e in report.rejected),
        images_in_store=len(images),
        seconds=time.perf_counter() - started,
    )
