"""Where gold images come from: a label file whose images are in the image store, or the label store.

A gold image must be one the workforce can be shown, so it must already be in
the image store: a label file's image references are read and hashed (the
image store is content-addressed) and looked up, never ingested here. A gold
set is trusted more than any one label, so a file with any bad row, a missing
image or a size mismatch adds nothing; the error lists what to fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from qiloop.core.errors import FormatError, NotFoundError
from qiloop.core.records import LabelRecord, LabelStatus
from qiloop.labelstore.formats.draft import ParseResult
from qiloop.labelstore.formats.labels_csv import REFERENCE_PREFIX, map_prefix

_SHOWN = 5  # problems named in one error message


def gold_from_file(
    parsed: ParseResult,
    image_store,
    *,
    images_root: str | Path,
    prefix: str = REFERENCE_PREFIX,
    read: Callable[[str], bytes] | None = None,
) -> tuple[list[LabelRecord], int]:
    """Gold candidates from a parsed label file: its APPROVED rows, each image found in the image store.

    Returns:
        The records, and how many rows were skipped for not being APPROVED.

    Raises:
        FormatError: A row could not be parsed, its image file is missing, or its size differs from the image.
        NotFoundError: Images of the file are not in the image store.
    """
    read = read or (lambda ref: Path(ref).read_bytes())
    if parsed.errors:
        raise _many(FormatError, "rows of the label file are malformed", parsed.errors, "correct the named rows")
    approved = [d for d in parsed.drafts if d.status == LabelStatus.APPROVED]
    records, problems, missing = [], [], []
    for draft in approved:
        where = f"{draft.image_ref} (line {draft.line})" if draft.line else draft.image_ref
        ref = map_prefix(draft.image_ref, prefix, images_root)
        try:
            data = read(ref)
        except (FileNotFoundError, IsADirectoryError):
            problems.append(f"{where}: no image file at {ref}")
            continue
        image = image_store.find(hashlib.sha256(data).hexdigest())
        if image is None:
            missing.append(where)
        elif (image.width, image.height) != (draft.image_width, draft.image_height):
            said, real = f"{draft.image_width}x{draft.image_height}", f"{image.width}x{image.height}"
            problems.append(f"{where}: the file says {said}, the image is {real}")
        else:
            records.append(draft.to_record(image_uri=image.uri, image_sha256=image.sha256))
    if problems:
        raise _many(FormatError, "gold rows do not match their images", problems, "check --images-root and --prefix")
    if missing:
        raise _many(
            NotFoundError,
            "gold images are not in the image store",
            missing,
            "ingest them first (`qiloop images ingest`, or `qiloop labels import` the file)",
        )
    return records, len(parsed.drafts) - len(approved)


def gold_from_store(label_store, image_store, *, exclude: set[str], limit: int | None = None) -> list[LabelRecord]:
    """Approved labels from the label store as gold candidates, ``limit`` of them, by image sha256.

    The order is the images' sha256, so the same store and gold set always give
    the same choice; images in ``exclude`` (already gold) are passed over.

    Raises:
        NotFoundError: Images of the chosen labels are not in the image store.
    """
    chosen = [r for r in label_store.latest(status=LabelStatus.APPROVED.value) if r.image_sha256 not in exclude]
    chosen = chosen[:limit] if limit is not None else chosen
    missing = [r for r in chosen if image_store.find(r.image_sha256) is None]
    if missing:
        image_store.refresh()
        missing = [r for r in missing if image_store.find(r.image_sha256) is None]
    if missing:
        raise _many(
            NotFoundError,
            "approved labels name images that are not in the image store",
            [f"{r.image_sha256[:16]} ({r.image_uri})" for r in missing],
            "ingest those images again, or choose gold from a label file",
        )
    return chosen


def _many(kind, what: str, items: Sequence, hint: str):
    shown = "; ".join(str(i) for i in items[:_SHOWN])
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return kind(f"{len(items)} {what}: {shown}{more}", hint=hint)
