"""The format-neutral result of parsing a label file.

A label file names its images (a path, an S3 reference, a COCO file name) but
cannot know their content hash; a :class:`LabelDraft` is a label record still
waiting for its image. The import shell resolves the image, hashes it, and
calls :meth:`LabelDraft.to_record`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from qiloop.core.errors import FormatError, InvalidRecordError
from qiloop.core.records import Box, LabelRecord, LabelSource, LabelStatus, utc

INT32_MAX = 2**31 - 1  # the label store keeps sizes and class ids as int32 (see labelstore.schema)


@dataclass(frozen=True)
class LabelDraft:
    """A parsed label whose image is known only by reference.

    It checks what a label file alone can tell (image size, boxes inside the
    image, numbers that fit the store's int32 columns) on construction, so a
    parser reports a bad entry at its line rather than at the later store write. ``event_time`` is normalised to UTC.
    ``line`` (where the entry was parsed) does not take part in equality.
    """

    image_ref: str
    image_width: int
    image_height: int
    image_depth: int
    annotations: tuple[Box, ...]
    event_time: datetime
    labeling_job: str = ""
    status: LabelStatus = LabelStatus.APPROVED
    annotators: tuple[str, ...] = ()
    agreement: float | None = None
    verifier: str | None = None
    source: LabelSource = LabelSource.IMPORT
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.image_width <= 0 or self.image_height <= 0:
            raise InvalidRecordError(
                f"image size {self.image_width}x{self.image_height} is not positive",
                hint="give the image's width and height in pixels",
            )
        if max(self.image_width, self.image_height) > INT32_MAX:
            raise InvalidRecordError(
                f"image size {self.image_width}x{self.image_height} is too large for the label store",
                hint=f"width and height are at most {INT32_MAX:,} pixels",
            )
        if not 1 <= self.image_depth <= 4:
            raise InvalidRecordError(f"image depth {self.image_depth} is not 1 to 4", hint="use 3 for RGB, 1 for grey")
        for i, box in enumerate(self.annotations):
            if box.class_id > INT32_MAX:
                raise InvalidRecordError(
                    f"annotation {i} has class id {box.class_id}, too large for the label store",
                    hint=f"class ids count from 0 and are at most {INT32_MAX:,}",
                )
            if not box.fits(self.image_width, self.image_height):
                raise InvalidRecordError(
                    f"annotation {i} {box.xyxy} reaches outside the {self.image_width}x{self.image_height} image",
                    hint="correct the box or the image size",
                )
        object.__setattr__(self, "annotations", tuple(self.annotations))
        object.__setattr__(self, "event_time", utc(self.event_time))

    def to_record(self, image_uri: str, image_sha256: str) -> LabelRecord:
        """The label record for this draft once its image is known."""
        return LabelRecord(
            image_uri=image_uri,
            image_sha256=image_sha256,
            image_width=self.image_width,
            image_height=self.image_height,
            image_depth=self.image_depth,
            annotations=self.annotations,
            event_time=self.event_time,
            labeling_job=self.labeling_job,
            status=self.status,
            annotators=self.annotators,
            agreement=self.agreement,
            verifier=self.verifier,
            source=self.source,
        )

    def with_ref(self, image_ref: str) -> LabelDraft:
        return replace(self, image_ref=image_ref)

    @classmethod
    def from_record(cls, record: LabelRecord, image_ref: str | None = None) -> LabelDraft:
        """A draft that writes ``record`` under ``image_ref`` (default: its image URI)."""
        return cls(
            image_ref=record.image_uri if image_ref is None else image_ref,
            image_width=record.image_width,
            image_height=record.image_height,
            image_depth=record.image_depth,
            annotations=record.annotations,
            event_time=record.event_time,
            labeling_job=record.labeling_job,
            status=record.status,
            annotators=record.annotators,
            agreement=record.agreement,
            verifier=record.verifier,
            source=record.source,
        )


@dataclass
class ParseResult:
    """Drafts parsed from a file, and the entries that could not be parsed.

    A bad row never stops the rest of the file: it is reported in ``errors``
    with its line number, and the caller decides whether to go on.
    """

    drafts: list[LabelDraft] = field(default_factory=list)
    errors: list[FormatError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors
