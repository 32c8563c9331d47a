"""An ingest run: files in, checked in parallel, index rows committed in batches.

Each file is hashed on a worker thread; a sha256 the index already holds is a
duplicate and is not decoded again. A new one is probed (format, size,
completeness) and its bytes are written to the blob area, still on the worker.
The calling thread then decides, in input order, new or duplicate (a file may
repeat bytes seen earlier in the same run) and commits the new rows every
``batch_size`` images: bytes always land before the row that names them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath

from qiloop.core.errors import ImageRejectedError, StoreError
from qiloop.core.records import ImageRecord
from qiloop.storage.blobs import BlobStore, blob_key
from qiloop.storage.grouping import group_of
from qiloop.storage.index import ImageIndex, to_record, to_row
from qiloop.storage.probe import ImageInfo, max_image_bytes, probe_image
from qiloop.storage.sources import ordered_map, progress_bar, read_file, walk


@dataclass
class IngestReport:
    """Outcome of one ingest run, item by item.

    Attributes:
        added: Images new to the store (or whose index row was repaired).
        duplicates: Images already in the store: the stored record, nothing written.
        rejected: One error per refused file, naming the file and the reason.
    """

    added: list[ImageRecord] = field(default_factory=list)
    duplicates: list[ImageRecord] = field(default_factory=list)
    rejected: list[ImageRejectedError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.rejected

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.duplicates)} duplicate, {len(self.rejected)} rejected"


@dataclass(frozen=True)
class Checked:
    """One input after the worker stage. ``info`` is None when the index already held its sha256."""

    sha256: str
    name: str
    size_bytes: int
    info: ImageInfo | None


class Ingestion:
    """The write path of an image store: checks inputs, writes bytes, appends index rows.

    Args:
        blobs: Where image bytes go.
        index: Where rows go.
        pattern: Compiled group pattern.
        max_pixels: Pixel limit handed to the probe.
        batch_size: Rows per index commit.
        workers: Threads for the check stage.
    """

    def __init__(
        self,
        blobs: BlobStore,
        index: ImageIndex,
        *,
        pattern: re.Pattern[str],
        max_pixels: int,
        batch_size: int,
        workers: int,
    ) -> None:
        self._blobs = blobs
        self._index = index
        self._pattern = pattern
        self.max_pixels = max_pixels
        self.batch_size = max(1, batch_size)
        self.workers = max(1, workers)
        self._batch: dict[str, ImageRecord] | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Defer the index commits of :meth:`one` to the end of the block (or every ``batch_size``).

        Bytes are still written at once, and the rows are committed on leaving
        the block even when it raises: every record handed out is then indexed.
        """
        if self._batch is not None:  # nested: the outer block commits
            yield
            return
        self._index.refresh()
        self._batch = {}
        try:
            yield
        finally:
            pending, self._batch = self._batch, None
            self._commit(pending)

    def run(
        self, paths: Iterable[str | Path], *, source: str, captured_at: datetime | None, progress: bool
    ) -> IngestReport:
        """Ingest files and folders; see :meth:`ImageStore.ingest`."""
        self._index.refresh()
        items = list(walk(paths))
        report = IngestReport()
        pending: dict[str, ImageRecord] = {}
        with progress_bar(len(items), progress) as advance:
            for done in ordered_map(self._check_file, items, self.workers):
                try:
                    known, record = self._accept(done.result(), source, captured_at, pending)
                except ImageRejectedError as exc:
                    report.rejected.append(exc)
                else:
                    (report.duplicates if known else report.added).append(record)
                    if len(pending) >= self.batch_size:
                        self._commit(pending)
                advance()
            self._commit(pending)
        return report

    def one(
        self, data: bytes, *, name: str, source: str, captured_at: datetime | None, group: str | None = None
    ) -> tuple[bool, ImageRecord]:
        """Ingest one in-memory image: (already stored?, record); see :meth:`ImageStore.add_bytes`."""
        if self._batch is not None:
            known, record = self._accept(self._check(data, name), source, captured_at, self._batch, group)
            if len(self._batch) >= self.batch_size:
                self._commit(self._batch)
            return known, record
        self._index.refresh()
        pending: dict[str, ImageRecord] = {}
        known, record = self._accept(self._check(data, name), source, captured_at, pending, group)
        self._commit(pending)
        return known, record

    def _check_file(self, item: Path | ImageRejectedError) -> Checked:
        if isinstance(item, ImageRejectedError):
            raise item
        return self._check(read_file(item, max_image_bytes(self.max_pixels)), str(item))

    def _check(self, data: bytes, name: str) -> Checked:
        """Hash; unless already indexed, probe and store the bytes. Runs on worker threads."""
        sha = hashlib.sha256(data).hexdigest()
        if self._index.row(sha) is not None:
            return Checked(sha, name, len(data), None)
        info = probe_image(data, name=name, max_pixels=self.max_pixels)
        self._blobs.write(blob_key(sha, info.format), data)  # bytes before their index row
        return Checked(sha, name, len(data), info)

    def _accept(
        self,
        checked: Checked,
        source: str,
        captured_at: datetime | None,
        pending: dict[str, ImageRecord],
        group: str | None = None,
    ) -> tuple[bool, ImageRecord]:
        """New or duplicate, decided on the calling thread; a new image's row waits in ``pending``."""
        row = self._index.row(checked.sha256)
        if row is not None:
            return True, to_record(row, self._blobs.uri(row["key"]))
        if checked.sha256 in pending:
            return True, pending[checked.sha256]
        if checked.info is None:  # indexed when checked yet not found now: rows never leave an append-only index
            raise StoreError(
                f"{checked.name}: sha256 {checked.sha256} vanished from the index", hint="reopen the store"
            )
        info, base = checked.info, PurePath(checked.name).name
        record = ImageRecord(
            uri=self._blobs.uri(blob_key(checked.sha256, info.format)),
            sha256=checked.sha256,
            width=info.width,
            height=info.height,
            depth=info.depth,
            format=info.format,
            size_bytes=checked.size_bytes,
            source=source,
            captured_at=captured_at or info.captured_at,
            ingested_at=datetime.now(timezone.utc),
            group=group or group_of(base, self._pattern),
            original_name=base,
        )
        pending[record.sha256] = record
        return False, record

    def _commit(self, pending: dict[str, ImageRecord]) -> None:
        if not pending:
            return
        self._index.append([to_row(r, blob_key(r.sha256, r.format)) for r in pending.values()])
        pending.clear()
