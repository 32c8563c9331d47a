"""Images uploaded through the labelling service: into the image store, and optionally into a new job.

Each file passes the image store's own gate (format from the bytes, the pixel
limit before decoding, a complete decode) and is stored under the source
``upload:<username>``. A refused file is reported with its reason and hint and
never stops the others. A job named with the upload is checked before any file
is stored, and created afterwards from every file that is in the store
(new or already there), so one request can go from files to a labelling queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

from qiloop.core.errors import ConfigurationError, ImageRejectedError, NotFoundError
from qiloop.core.records import ImageRecord
from qiloop.labeling import jobs
from qiloop.labeling.jobs import JobSpec, JobSummary

STORED, DUPLICATE, REJECTED = "stored", "duplicate", "rejected"
MAX_GROUP = 128


@dataclass(frozen=True)
class UploadedFile:
    """What became of one uploaded file: ``outcome`` is stored, duplicate or rejected (with ``error``, ``hint``)."""

    name: str
    size_bytes: int
    outcome: str
    record: ImageRecord | None = None
    error: str | None = None
    hint: str | None = None

    def to_json(self) -> dict:
        r = self.record
        return {
            "name": self.name,
            "size_bytes": self.size_bytes,
            "outcome": self.outcome,
            "sha256": r and r.sha256,
            "width": r and r.width,
            "height": r and r.height,
            "format": r and r.format,
            "group": r and r.group,
            "error": self.error,
            "hint": self.hint,
        }


@dataclass
class UploadReport:
    """One upload, file by file, and the job made from it (or why none was made)."""

    files: list[UploadedFile] = field(default_factory=list)
    job: JobSummary | None = None
    job_error: ConfigurationError | NotFoundError | None = None

    def count(self, outcome: str) -> int:
        return sum(f.outcome == outcome for f in self.files)

    @property
    def status(self) -> int:
        """201 something new and nothing refused, 200 only duplicates, 207 some refused, 422 all refused."""
        refused = self.count(REJECTED)
        if refused == len(self.files):
            return 422
        if refused:
            return 207
        return 201 if self.count(STORED) else 200

    def to_json(self) -> dict:
        job_error = self.job_error and {"message": self.job_error.message, "hint": self.job_error.hint}
        return {
            "stored": self.count(STORED),
            "duplicates": self.count(DUPLICATE),
            "rejected": self.count(REJECTED),
            "files": [f.to_json() for f in self.files],
            "job": self.job and {"name": self.job.name, "images": self.job.images, "classes": list(self.job.classes)},
            "job_error": job_error,
        }


def upload_images(
    image_store,
    files: Iterable[tuple[str, bytes | BinaryIO]],
    *,
    uploader: str,
    group: str | None = None,
    job: JobSpec | None = None,
    db=None,
    created_by: int | None = None,
) -> UploadReport:
    """Store uploaded files (read one at a time) and, with ``job``, create that job from them.

    Not thread-safe: ``image_store`` is used by this thread alone for the call (the
    service gives uploads a handle of their own, see :mod:`qiloop.labeling.api.images`).

    Args:
        image_store: The :class:`~qiloop.storage.ImageStore` that checks and keeps the images.
        files: ``(file name, bytes or a readable file)`` pairs; the name is metadata only.
        uploader: The account uploading; images get the source ``upload:<uploader>``.
        group: Split group for every new image; default derived from each file name.
        job: A new job over the files in the store after the upload (needs ``db``).
        created_by: The uploader's user id, recorded on the job.

    Raises:
        ConfigurationError: No file, a bad group, or the job name is taken (nothing is stored then).

    Example:
        >>> report = upload_images(store, [("a.png", png_bytes)], uploader="ada")  # doctest: +SKIP
        >>> report.files[0].outcome
        'stored'
    """
    group = clean_group(group)
    files = list(files)
    if not files:
        raise ConfigurationError("the upload holds no file", hint="choose one or more JPEG or PNG files")
    if job is not None:
        _job_name_free(db, job.name)
    report = UploadReport()
    with image_store.batch():
        for name, content in files:
            report.files.append(_store_one(image_store, base_name(name), content, f"upload:{uploader}", group))
    if job is not None:
        records = [f.record for f in report.files if f.record is not None]
        try:
            with db.session() as session:
                report.job = jobs.create_job(session, job, records, created_by=created_by)
        except (ConfigurationError, NotFoundError) as exc:  # the images stay stored; the report says why no job
            report.job_error = exc
    return report


def clean_group(group: str | None) -> str | None:
    """A group given by hand: stripped, at most 128 printable characters; blank means none."""
    if group is None or not group.strip():
        return None
    group = group.strip()
    if len(group) > MAX_GROUP or not group.isprintable():
        shown = group if len(group) <= 40 else group[:40] + "..."
        raise ConfigurationError(
            f"the group {shown!r} is not valid ({len(group)} characters)",
            hint=f"use at most {MAX_GROUP} printable characters, e.g. the photo or batch id",
        )
    return group


def job_spec(
    name: str | None, classes: str | None, annotators: int | None, default_classes: list[str]
) -> JobSpec | None:
    """The job asked for in an upload form: None without a name; classes comma-separated, default ``default_classes``.

    Raises:
        ConfigurationError: A field is invalid (the message names it).
    """
    if name is None or not name.strip():
        return None
    chosen = [c.strip() for c in (classes or "").split(",") if c.strip()] or list(default_classes)
    fields = {"name": name.strip(), "classes": chosen}
    if annotators is not None:
        fields["annotators_per_image"] = annotators
    return JobSpec.build(**fields)


def _store_one(image_store, name: str, content: bytes | BinaryIO, source: str, group: str | None) -> UploadedFile:
    data = content if isinstance(content, bytes) else content.read()
    try:
        record, new = image_store.add_bytes(data, name=name, source=source, group=group)
    except ImageRejectedError as exc:
        return UploadedFile(name, len(data), REJECTED, error=exc.reason, hint=exc.hint)
    return UploadedFile(name, len(data), STORED if new else DUPLICATE, record)


def base_name(name: str) -> str:
    """The file's own name (no folders, whichever separator the client used)."""
    return PurePosixPath(name.replace("\\", "/")).name[:255] or "unnamed"


def _job_name_free(db, name: str) -> None:
    if db is None:
        raise ConfigurationError("a job needs the labelling database", hint="pass db= with job=")
    with db.session() as session:
        try:
            jobs.get_job(session, name)
        except NotFoundError:
            return
    raise ConfigurationError(
        f"a job named {name!r} already exists; nothing was uploaded",
        hint="name a new job (uploads start new jobs only), or leave the job name empty",
    )
