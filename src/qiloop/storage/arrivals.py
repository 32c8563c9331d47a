"""What arrived in the image store after a cursor: new images and device feedback, read columnar.

The loop's triggers ask "what is new since I last looked" every few seconds. At
10^6 images, building a record per image (``ImageStore.list``/``unlabeled``) costs
seconds; these read only the index and feedback files written after the cursor
(see :mod:`qiloop.storage.delta_since`), a few columns, no records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from qiloop.storage.backends import delta_options
from qiloop.storage.delta_since import Since, count_since, rows_since
from qiloop.storage.feedback import FEEDBACK_FOLDER

INDEX_FOLDER = "_index"  # as in storage.image_store, which this module does not import (no Pillow needed)


@dataclass(frozen=True)
class Arrivals:
    """What arrived after a cursor.

    Attributes:
        count: Distinct images (new images) or distinct device messages (feedback).
        newest: The time of the newest arrival: the next cursor (None when nothing arrived).
        files_read: Data files opened to find out (the rest were skipped on their statistics).
    """

    count: int
    newest: datetime | None
    files_read: int


def new_images(store_url: str, after: datetime | None, storage_options: dict | None = None) -> Arrivals:
    """Images ingested after ``after`` (``ingested_at``): index rows, counted from the log where a file is wholly new.

    One row per image, but for the rare image two racing writers both indexed (counted twice here).
    """
    url = f"{store_url.rstrip('/')}/{INDEX_FOLDER}"
    counted = count_since(url, "ingested_at", after, delta_options(url, storage_options))
    return Arrivals(counted.rows, counted.newest, counted.files_read)


def new_feedback(store_url: str, after: datetime | None, storage_options: dict | None = None) -> Arrivals:
    """Feedback messages received after ``after``, counted once per ``(device_id, sequence)``."""
    url = f"{store_url.rstrip('/')}/{FEEDBACK_FOLDER}"
    since = _since(url, "received_at", after, ["device_id", "sequence"], storage_options)
    count = since.rows.select(["device_id", "sequence"]).group_by(["device_id", "sequence"]).aggregate([]).num_rows
    return Arrivals(count if since.rows.num_rows else 0, since.newest("received_at"), since.files_read)


def _since(url: str, column: str, after: datetime | None, columns: list[str], options: dict | None) -> Since:
    return rows_since(url, column, after, columns, delta_options(url, options))
