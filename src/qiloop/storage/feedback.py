"""The image store's feedback area: why each device sent an image back, and what its model saw.

A Delta table ``_feedback`` beside the image store's ``_index``, so it lives
wherever the store lives (a folder or S3) and several collectors may append at
once. One row per feedback message: the image (by sha256, its bytes are in the
store), the device and its message ``sequence``, the reason (``uncertain``,
``no_detection``, ``sample``), the model name and version, and the model's
boxes as pre-labels for the next labelling job. Rows are never updated; a
collector that crashed after appending but before noting the message as seen
appends it again when the broker re-delivers it, so reads keep the first row per
``(device_id, sequence)``.
"""

from __future__ import annotations

import builtins
from datetime import datetime, timezone

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError
from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.errors import StoreError
from qiloop.core.records import Box, Sha256
from qiloop.storage import delta_append

FEEDBACK_FOLDER = "_feedback"
_BOX = pa.struct(
    [
        ("class_id", pa.int32()),
        ("left", pa.float64()),
        ("top", pa.float64()),
        ("width", pa.float64()),
        ("height", pa.float64()),
        ("score", pa.float64()),
    ]
)
SCHEMA = pa.schema(
    [
        ("image_sha256", pa.string()),
        ("image_name", pa.string()),
        ("device_id", pa.string()),
        ("sequence", pa.int64()),
        ("reason", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("prelabels", pa.list_(_BOX)),
        ("sent_at", pa.timestamp("us", tz="UTC")),
        ("received_at", pa.timestamp("us", tz="UTC")),
    ]
)


class FeedbackEntry(BaseModel):
    """One image a device sent back for labelling, with its model's boxes as pre-labels."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    image_sha256: Sha256
    image_name: str
    device_id: str = Field(min_length=1)
    sequence: int = Field(ge=0)
    reason: str
    model_name: str
    model_version: str = ""
    prelabels: list[Box] = Field(default_factory=list)
    sent_at: datetime
    received_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


class FeedbackLog:
    """Append and read the feedback area's Delta table.

    Args:
        table: The opened Delta table.
        storage_options: delta-rs options, reused for writes.
    """

    def __init__(self, table: DeltaTable, storage_options: dict[str, str]) -> None:
        self._table = table
        self._options = storage_options

    @classmethod
    def open(cls, uri: str, storage_options: dict[str, str]) -> FeedbackLog:
        """Open the feedback table at ``uri``, creating it (race-safely) on first use."""
        table = delta_append.open_table(uri, SCHEMA, storage_options, name="qiloop_feedback", what="feedback log")
        return cls(table, storage_options)

    def append(self, entries: builtins.list[FeedbackEntry]) -> None:
        """Commit ``entries`` as one transaction, retrying when other writers win the race."""
        if not entries:
            return
        data = pa.Table.from_pylist([e.model_dump() for e in entries], schema=SCHEMA)
        delta_append.append(
            self._table,
            data,
            self._options,
            what=f"{len(entries)} feedback rows",
            busy="many writers are committing at once; the device message will be re-delivered",
            down="retry once the store is reachable",
        )

    def list(self, device: str | None = None) -> builtins.list[FeedbackEntry]:
        """Every feedback entry in receive order, one per ``(device_id, sequence)``; ``device`` keeps one device."""
        return self._read(None if device is None else ("device_id", device))

    def for_image(self, sha256: str) -> builtins.list[FeedbackEntry]:
        """The feedback entries of one image (a device may send the same bytes more than once)."""
        return self._read(("image_sha256", sha256))

    def __len__(self) -> int:
        return len(self.list())

    def _read(self, match: tuple[str, str] | None) -> builtins.list[FeedbackEntry]:
        try:
            self._table.update_incremental()
            filters = [(match[0], "=", match[1])] if match else None
            rows = self._table.to_pyarrow_table(filters=filters).to_pylist()
        except (DeltaError, OSError) as exc:
            raise StoreError(
                f"could not read the feedback log: {exc}", hint="check that the store is reachable"
            ) from exc
        rows.sort(key=lambda r: (r["received_at"], r["device_id"], r["sequence"]))
        first: dict[tuple[str, int], FeedbackEntry] = {}
        for row in rows:
            first.setdefault((row["device_id"], row["sequence"]), FeedbackEntry(**row))
        return builtins.list(first.values())
