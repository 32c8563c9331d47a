"""Which images a new labelling job may take: selection only, no job is written here.

Three sources: images without an APPROVED label (``unlabeled``), images devices
sent back (``feedback``, with the boxes their model saw), and images named by
sha256 or a prefix of it (``named``). Images another unfinished job holds are
left out before ``limit`` applies, so the limit counts images a new job can take;
of feedback, images approved since they came back are left out too.

The use case that opens a job over a selection, with model pre-labels, is
:func:`qiloop.loop.labeling_job.open_labeling_job`; the admin's form and API
create a job from a selection with :func:`qiloop.labeling.jobs.create_job`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box, ImageRecord
from qiloop.labeling import jobs

Source = Literal["unlabeled", "feedback", "named"]
SOURCES = {
    "unlabeled": "images without an approved label",
    "feedback": "images devices sent back, not approved yet, with their model's boxes as pre-labels",
}
FEEDBACK = "feedback"


@dataclass(frozen=True)
class Selection:
    """The images a new job takes, and for feedback the boxes their devices saw (by sha256)."""

    source: Source
    records: list[ImageRecord]
    device_boxes: dict[str, list[Box]] | None = field(default=None)

    @property
    def prelabel_source(self) -> str | None:
        """``feedback`` when the images bring their devices' boxes, else None."""
        return FEEDBACK if self.device_boxes is not None else None

    @property
    def prelabels(self) -> dict[str, list[Box]]:
        """The devices' boxes of the selected images (empty for other sources)."""
        if self.device_boxes is None:
            return {}
        return {r.sha256: self.device_boxes.get(r.sha256, []) for r in self.records}


def free_images(
    db,
    image_store,
    label_store,
    source: str = "unlabeled",
    *,
    limit: int | None = None,
    named: Sequence[str] = (),
    device_id: str | None = None,
    since: datetime | None = None,
) -> Selection:
    """The images of ``source`` no unfinished job holds, at most ``limit`` (oldest first).

    Args:
        db: The labelling database (:class:`qiloop.labeling.db.Database`).
        image_store, label_store: The image store and the label store.
        source: ``unlabeled``, ``feedback`` or ``named``.
        limit: At most this many images.
        named: For ``named``: sha256s or unique prefixes of stored images.
        device_id, since: For ``feedback``: only this device's images, received at or after ``since``.

    Raises:
        ConfigurationError: An unknown source.
        NotFoundError: A named image is not stored (or its prefix is ambiguous).
    """
    if source not in (*SOURCES, "named"):
        raise ConfigurationError(f"unknown image source {source!r}", hint=f"use one of {', '.join(SOURCES)}")
    with db.session() as session:
        queued = jobs.queued_sha256s(session)
    if source == "named":
        records = [r for r in (image_store.resolve(prefix) for prefix in named) if r.sha256 not in queued]
        return Selection("named", records[:limit] if limit is not None else records)
    if source == FEEDBACK:
        return _feedback(image_store, queued | label_store.labeled_sha256s(), device_id, since, limit)
    return Selection("unlabeled", jobs.images_without_approved_label(image_store, label_store, limit, exclude=queued))


def _feedback(image_store, taken: set[str], device_id: str | None, since: datetime | None,
              limit: int | None) -> Selection:  # fmt: skip
    """Feedback images not ``taken``, with the boxes of each image's latest report (receive order)."""
    boxes: dict[str, list[Box]] = {}
    for entry in image_store.feedback.list(device_id):
        if entry.image_sha256 not in taken and (since is None or entry.received_at >= since):
            boxes[entry.image_sha256] = list(entry.prelabels)
    chosen = list(boxes)[:limit] if limit is not None else list(boxes)
    return Selection(FEEDBACK, [image_store.get(sha) for sha in chosen], boxes)
