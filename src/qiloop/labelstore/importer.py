"""Import label files into the label store, bringing their images into the image store.

A label file names images by reference; importing resolves each reference to
bytes, ingests them into the image store (content-addressed, so re-importing is
free), checks the file's image size against the real image, and appends the
records to the label store in one commit. A bad row or a missing image is
reported with its line and never stops the rest.

A reference is read only when it names a regular file no larger than any
image within the store's pixel limit: ``/dev/zero``, a FIFO or a link to a
device is refused for its row with the reason, never read or waited on.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from qiloop.core.errors import FormatError, ImageRejectedError, QiloopError
from qiloop.core.records import ImageRecord, LabelRecord
from qiloop.labelstore.formats.draft import LabelDraft, ParseResult
from qiloop.labelstore.formats.labels_csv import REFERENCE_PREFIX, map_prefix
from qiloop.storage.files import FileRefused, read_regular


class ImageSink(Protocol):
    max_image_bytes: int

    def ingest_bytes(self, data: bytes, *, name: str, source: str = ..., captured_at=...) -> ImageRecord: ...

    def batch(self) -> AbstractContextManager: ...


class RecordSink(Protocol):
    def append(self, records): ...


@dataclass
class ImportReport:
    """What an import did: records written or already present, and every problem."""

    parsed: int = 0
    written: int = 0
    already_present: int = 0
    images: int = 0
    version: int | None = None
    errors: list[QiloopError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def resolve_records(
    parsed: ParseResult,
    images: ImageSink,
    *,
    images_root: str | Path | None,
    prefix: str = REFERENCE_PREFIX,
    source: str = "import",
    read: Callable[[str], bytes] | None = None,
    progress: Callable[[], None] | None = None,
) -> tuple[list[LabelRecord], list[QiloopError]]:
    """Turn drafts into label records by ingesting each referenced image.

    Args:
        parsed: the parse result of a label file.
        images: the image store to ingest into.
        images_root: folder that ``prefix`` (and relative references) map onto.
        prefix: reference prefix replaced by ``images_root``.
        source: the image store's ``source`` for newly seen images.
        read: how to read a resolved reference (default: local files).
        progress: called once per draft.
    """
    limit = images.max_image_bytes
    read = read or (lambda ref: read_regular(ref, max_bytes=limit))
    records: list[LabelRecord] = []
    errors: list[QiloopError] = list(parsed.errors)
    with images.batch():  # one image-index commit per batch, not per image
        for draft in parsed.drafts:
            try:
                records.append(_resolve(draft, images, images_root, prefix, source, read))
            except QiloopError as exc:
                errors.append(exc)
            finally:
                if progress:
                    progress()
    return records, errors


def _resolve(draft: LabelDraft, images, root, prefix, source, read) -> LabelRecord:
    where = dict(source=draft.image_ref, line=draft.line)
    ref = map_prefix(draft.image_ref, prefix, root) if root is not None else draft.image_ref
    try:
        data = read(ref)
    except FileNotFoundError as exc:
        raise FormatError(
            f"image not found at {ref}",
            **where,
            hint="check --images-root and --prefix: the reference must map onto an existing file",
        ) from exc
    except FileRefused as exc:
        raise FormatError(f"image refused: {ref} is {exc}", **where, hint="reference image files only") from exc
    except OSError as exc:
        raise FormatError(f"cannot read the image at {ref}: {exc.strerror or exc}", **where) from exc
    try:
        image = images.ingest_bytes(data, name=Path(ref).name, source=source)
    except ImageRejectedError as exc:
        raise FormatError(f"image refused: {exc.reason}", **where, hint=exc.hint) from exc
    if (image.width, image.height) != (draft.image_width, draft.image_height):
        raise FormatError(
            f"the file says the image is {draft.image_width}x{draft.image_height} "
            f"but {ref} is {image.width}x{image.height}",
            **where,
            hint="the label may belong to another image, or the image was resized after labelling",
        )
    return draft.to_record(image_uri=image.uri, image_sha256=image.sha256)


def import_parsed(
    parsed: ParseResult,
    images: ImageSink,
    labels: RecordSink,
    *,
    images_root: str | Path | None,
    prefix: str = REFERENCE_PREFIX,
    source: str = "import",
    progress: Callable[[], None] | None = None,
) -> ImportReport:
    """Resolve and append every good record of ``parsed`` in one label-store commit."""
    records, errors = resolve_records(
        parsed, images, images_root=images_root, prefix=prefix, source=source, progress=progress
    )
    report = ImportReport(parsed=len(parsed.drafts) + len(parsed.errors), errors=errors)
    report.images = len({r.image_sha256 for r in records})
    if records:
        result = labels.append(records)
        report.written = result.written
        report.already_present = result.skipped
        report.version = result.version
    return report
