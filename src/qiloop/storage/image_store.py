"""The image store: raw images, content-addressed, with metadata.

Layout under the store's root (a local folder or any fsspec URL such as ``s3://bucket/images``)::

    blobs/<sha[:2]>/<sha>.<ext>       the image bytes, named by their sha256 (jpg, png, bmp, tif, webp)
    _index/                           a Delta table, one row per image (see ``storage.index``)
    _feedback/                        a Delta table, why devices sent images back (see ``storage.feedback``)

The index stores each blob's key relative to the root, so a store can be moved
or mirrored; records carry the absolute ``uri`` of where the bytes are now.

Ordering is what keeps the store consistent without locks: bytes are written
before their index row, so every row points to bytes that exist. A crash between
the two leaves a blob without a row; ingesting the same bytes again finds the
blob, writes nothing, and adds the missing row. Several processes may ingest
into one store at once. One ``ImageStore`` object is not meant to be shared
between threads.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Collection, Iterable
from datetime import datetime
from pathlib import Path

import polars as pl

from qiloop.core.errors import NotFoundError, StoreError
from qiloop.core.records import ImageRecord
from qiloop.settings import Settings
from qiloop.storage.backends import delta_options
from qiloop.storage.blobs import BlobStore, blob_key
from qiloop.storage.feedback import FEEDBACK_FOLDER, FeedbackLog
from qiloop.storage.grouping import compile_group_pattern
from qiloop.storage.index import ImageIndex, to_record
from qiloop.storage.ingest import Ingestion, IngestReport
from qiloop.storage.probe import max_image_bytes

DEFAULT_GROUP_PATTERN: str = Settings.model_fields["group_pattern"].default
DEFAULT_MAX_PIXELS: int = Settings.model_fields["max_image_pixels"].default
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)
INDEX_FOLDER = "_index"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ImageStore:
    """Ingest, find and read images; the interface the labelling pipeline reads.

    Args:
        blobs: Where the image bytes live.
        index: The metadata index.
        group_pattern: Regex that derives an image's split group from its file name.
        max_pixels: Larger images are refused as decompression bombs.
        batch_size: Index rows per commit during :meth:`ingest`.
        workers: Threads that hash, check and store files during :meth:`ingest`.
        delta_storage_options: delta-rs options for the store's Delta tables (the feedback log).
    """

    def __init__(
        self,
        blobs: BlobStore,
        index: ImageIndex,
        *,
        group_pattern: str | re.Pattern[str] = DEFAULT_GROUP_PATTERN,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        batch_size: int = 500,
        workers: int = DEFAULT_WORKERS,
        delta_storage_options: dict[str, str] | None = None,
    ) -> None:
        self._blobs = blobs
        self._index = index
        self._delta_options = delta_storage_options or {}
        self._feedback: FeedbackLog | None = None
        self._ingestion = Ingestion(
            blobs,
            index,
            pattern=compile_group_pattern(group_pattern),
            max_pixels=max_pixels,
            batch_size=batch_size,
            workers=workers,
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        storage_options: dict[str, str] | None = None,
        group_pattern: str = DEFAULT_GROUP_PATTERN,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        batch_size: int = 500,
        workers: int = DEFAULT_WORKERS,
    ) -> ImageStore:
        """Open (creating on first use) the store at ``url``: a folder, ``file://`` or ``s3://`` URL.

        Example:
            >>> store = ImageStore.from_url("/tmp/qi/images")  # doctest: +SKIP
        """
        blobs = BlobStore.from_url(url, storage_options)
        options = delta_options(url, storage_options)
        index = ImageIndex.open(f"{blobs.root_url}/{INDEX_FOLDER}", options)
        return cls(
            blobs,
            index,
            group_pattern=group_pattern,
            max_pixels=max_pixels,
            batch_size=batch_size,
            workers=workers,
            delta_storage_options=options,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageStore:
        """Open the store that ``settings`` name (``image_store_url``, group pattern, pixel limit)."""
        url = settings.image_store_url
        return cls.from_url(
            url,
            storage_options=settings.storage_options(url),
            group_pattern=settings.group_pattern,
            max_pixels=settings.max_image_pixels,
        )

    @property
    def url(self) -> str:
        return self._blobs.root_url

    @property
    def max_image_bytes(self) -> int:
        """The largest file an image within this store's pixel limit can be; readers refuse larger ones unread."""
        return max_image_bytes(self._ingestion.max_pixels)

    @property
    def feedback(self) -> FeedbackLog:
        """The feedback area (``_feedback``): why devices sent images back, with their pre-labels."""
        if self._feedback is None:
            self._feedback = FeedbackLog.open(f"{self.url}/{FEEDBACK_FOLDER}", self._delta_options)
        return self._feedback

    def __repr__(self) -> str:
        return f"ImageStore({self.url!r}, {len(self)} images)"

    # ----------------------------------------------------------------- writing

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        source: str = "import",
        captured_at: datetime | None = None,
        progress: bool = False,
    ) -> IngestReport:
        """Add the files at ``paths`` (folders recursively); refused files are reported, not raised.

        Args:
            paths: Files and folders.
            source: Where the images come from: ``"import"``, ``"camera:<id>"``, ``"feedback:<device>"``.
            captured_at: Capture time for every image; default the EXIF time, if any.
            progress: Show a progress bar on stderr.

        Raises:
            StoreError: The backend failed; bytes already written are kept and the next ingest completes them.
        """
        return self._ingestion.run(paths, source=source, captured_at=captured_at, progress=progress)

    def ingest_bytes(
        self,
        data: bytes,
        *,
        name: str,
        source: str = "import",
        captured_at: datetime | None = None,
        group: str | None = None,
    ) -> ImageRecord:
        """Add one image held in memory (a camera frame, a feedback upload); return its record.

        Bytes already in the store return the stored record and write nothing.
        ``group`` overrides the split group the group pattern derives from ``name``.

        Raises:
            ImageRejectedError: The bytes are not an acceptable image.
        """
        return self.add_bytes(data, name=name, source=source, captured_at=captured_at, group=group)[0]

    def add_bytes(
        self,
        data: bytes,
        *,
        name: str,
        source: str = "import",
        captured_at: datetime | None = None,
        group: str | None = None,
    ) -> tuple[ImageRecord, bool]:
        """:meth:`ingest_bytes`, also saying whether the bytes were new (False: already stored)."""
        known, record = self._ingestion.one(data, name=name, source=source, captured_at=captured_at, group=group)
        return record, not known

    def batch(self):
        """A block in which :meth:`ingest_bytes` commits index rows in batches, not one by one.

        Example:
            >>> with store.batch():  # doctest: +SKIP
            ...     records = [store.ingest_bytes(b, name=n) for n, b in frames]
        """
        return self._ingestion.batch()

    def compact(self) -> None:
        """Merge the index's small files (one per ingest batch) and checkpoint it."""
        self._index.compact()

    def refresh(self) -> None:
        """Take in images that other processes added since this store was opened or last refreshed."""
        self._index.refresh()

    # ----------------------------------------------------------------- reading

    def find(self, sha256: str) -> ImageRecord | None:
        """The record of the image with this sha256, or None."""
        row = self._index.row(sha256)
        return None if row is None else self._record(row)

    def get(self, sha256: str) -> ImageRecord:
        """The record of the image with this sha256.

        Raises:
            NotFoundError: No such image (after a look at what other writers added).
        """
        record = self.find(sha256)
        if record is None:
            self._index.refresh()
            record = self.find(sha256)
        if record is None:
            hint = "ingest the image first; `qiloop images ls` lists what the store holds"
            if not _SHA256.match(sha256):
                hint = "a sha256 is 64 lower-case hex characters; " + hint
            raise NotFoundError(f"no image with sha256 {sha256!r} in the store at {self.url}", hint=hint)
        return record

    def resolve(self, prefix: str) -> ImageRecord:
        """The one image whose sha256 starts with ``prefix`` (for humans typing short ids)."""
        prefix = prefix.strip().lower()
        matches = self._index.frame.filter(pl.col("sha256").str.starts_with(prefix)).head(2)
        if matches.height == 1 and prefix:
            return self._record(matches.row(0, named=True))
        if matches.height > 1 and prefix:
            raise NotFoundError(f"{prefix!r} matches several images", hint="give more characters of the sha256")
        return self.get(prefix)

    def read_bytes(self, sha256: str) -> bytes:
        """The image's bytes, checked against its sha256."""
        record = self.get(sha256)
        data = self._blobs.read(blob_key(record.sha256, record.format))
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise StoreError(
                f"the bytes at {record.uri} do not match their sha256 {record.sha256}",
                hint="the blob was altered outside qiloop; ingest the original file again after deleting it",
            )
        return data

    def list(self, *, source: str | None = None) -> list[ImageRecord]:
        """All images in ingest order; ``source`` keeps one source (``"camera"`` also keeps ``"camera:<id>"``)."""
        frame = self._index.frame
        if source is not None:
            frame = frame.filter((pl.col("source") == source) | pl.col("source").str.starts_with(f"{source}:"))
        return self._records(frame)

    def unlabeled(self, labeled_sha256: Collection[str]) -> list[ImageRecord]:
        """Images whose sha256 is not in ``labeled_sha256`` (e.g. the label store's approved set)."""
        labeled = pl.DataFrame({"sha256": list(labeled_sha256)}, schema={"sha256": pl.String})
        return self._records(self._index.frame.join(labeled, on="sha256", how="anti"))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, sha256: object) -> bool:
        return isinstance(sha256, str) and self._index.row(sha256) is not None

    def _records(self, frame: pl.DataFrame) -> list[ImageRecord]:
        ordered = frame.sort(["ingested_at", "sha256"], nulls_last=True)
        return [self._record(row) for row in ordered.iter_rows(named=True)]

    def _record(self, row: dict) -> ImageRecord:
        return to_record(row, self._blobs.uri(row["key"]))
