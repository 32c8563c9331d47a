"""The image store's metadata index: an append-only Delta table.

Why Delta: the same table works on a local disk and on S3, commits are atomic
(put-if-absent on the commit file), so several ingesting processes can append
at once without a lock server, and checkpoints keep opening a table with many
commits fast. One row per ingested image; rows are never updated or deleted.

Two writers that ingest the same bytes at the same moment may both append a row
for one sha256. Reads therefore de-duplicate: the row with the earliest
``ingested_at`` (then source, then name, for a stable choice) is the image's record.

The rows are held in memory (``storage.lookup``; about 225 bytes a row, ~225 MB
at 10^6 images); ``refresh`` reads only the data files added since the last
read, so keeping up with other writers costs what they wrote, not the table size.
"""

from __future__ import annotations

from contextlib import contextmanager

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.fs as pa_fs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError
from deltalake.fs import DeltaStorageHandler

from qiloop.core.errors import StoreError
from qiloop.core.records import ImageRecord
from qiloop.storage import delta_append
from qiloop.storage.lookup import RowSet

SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("key", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("depth", pa.int8()),
        ("format", pa.string()),
        ("size_bytes", pa.int64()),
        ("source", pa.string()),
        ("captured_at", pa.timestamp("us", tz="UTC")),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
        ("group", pa.string()),
        ("original_name", pa.string()),
    ]
)
_RECORD_FIELDS = [name for name in SCHEMA.names if name != "key"]


class ImageIndex:
    """In-memory view of the Delta index, kept current with :meth:`refresh`.

    Args:
        table: The opened Delta table.
        storage_options: delta-rs options, reused for writes.
    """

    def __init__(self, table: DeltaTable, storage_options: dict[str, str]) -> None:
        self._table = table
        self._options = storage_options
        self._version = -1
        self._seen: set[str] = set()
        self._rows = RowSet(pl.from_arrow(SCHEMA.empty_table()))
        self.refresh()

    @classmethod
    def open(cls, uri: str, storage_options: dict[str, str]) -> ImageIndex:
        """Open the index table at ``uri``, creating it (race-safely) on first use."""
        table = delta_append.open_table(uri, SCHEMA, storage_options, name="qiloop_images", what="image index")
        return cls(table, storage_options)

    @property
    def frame(self) -> pl.DataFrame:
        """One row per image, in no particular order."""
        return self._rows.frame

    def __len__(self) -> int:
        return len(self._rows)

    def refresh(self) -> None:
        """Take in rows that any writer committed since the last read; costs what was added, not the table size."""
        with _backend("read the image index"):
            self._table.update_incremental()
            version = self._table.version()
            if version == self._version:
                return
            # The add actions name the live data files (a log read, ~1 ms for thousands of files);
            # only files not read before are opened.
            actions = pa.table(self._table.get_add_actions(flatten=False)).select(["path", "size_bytes"]).to_pylist()
            fresh = {a["path"]: a["size_bytes"] for a in actions if a["path"] not in self._seen}
            if fresh:
                self._rows.add(pl.from_arrow(self._read(fresh)))
                self._seen.update(fresh)
            self._version = version

    def _read(self, sizes: dict[str, int]) -> pa.Table:
        # Known sizes spare a HEAD request per file (and a blocking call inside delta-rs' handler).
        handler = DeltaStorageHandler(self._table.table_uri, self._options or None, known_sizes=sizes)
        files = pa_fs.PyFileSystem(handler)
        fmt = pds.ParquetFileFormat()
        fragments = [fmt.make_fragment(path, filesystem=files, file_size=size) for path, size in sizes.items()]
        return pds.FileSystemDataset(fragments, SCHEMA, fmt, files).to_table()

    def row(self, sha256: str) -> dict | None:
        """The row of the image with this sha256, or None."""
        return self._rows.row(sha256)

    def append(self, rows: list[dict]) -> None:
        """Commit ``rows`` as one transaction, retrying when other writers win the race."""
        if not rows:
            return
        data = pa.Table.from_pylist(rows, schema=SCHEMA)
        delta_append.append(
            self._table,
            data,
            self._options,
            what=f"{len(rows)} index rows",
            busy="many writers are committing at once; ingest again (the image bytes are kept)",
            down="ingest again once the store is reachable; the image bytes already written are kept",
        )
        self.refresh()

    def compact(self) -> None:
        """Merge small data files and checkpoint the log; rows are unchanged."""
        with _backend("compact the image index"):
            self._table.optimize.compact()
            self._table.create_checkpoint()
        self.refresh()


@contextmanager
def _backend(action: str):
    """Turn a storage backend's failure into a :class:`StoreError` that says what was being done."""
    try:
        yield
    except (DeltaError, OSError) as exc:
        raise StoreError(f"could not {action}: {exc}", hint="check that the store is reachable, then retry") from exc


def to_row(record: ImageRecord, key: str) -> dict:
    """The index row of ``record``, whose bytes live at ``key`` under the store's root."""
    return {"key": key, **{name: getattr(record, name) for name in _RECORD_FIELDS}}


def to_record(row: dict, uri: str) -> ImageRecord:
    """The record an index row describes, with ``uri`` where its bytes are now."""
    return ImageRecord(uri=uri, **{name: row[name] for name in _RECORD_FIELDS})
