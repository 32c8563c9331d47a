"""The canonical records every part of qiloop speaks.

Formats (labels.csv, Ground Truth manifests, YOLO, COCO) convert to and from
these at the edges; nothing inside qiloop passes raw dicts around. Every record
validates itself on construction, so an invalid box never reaches a store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qiloop.core.errors import InvalidRecordError

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def __init__(self, **data):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidRecordError(
                f"invalid {type(self).__name__}: {describe(exc)}",
                hint="correct the named field; the record was not stored",
            ) from exc


def describe(exc: ValidationError, root: str = "record") -> str:
    """One line per problem: ``field.path: message (got value)``; ``root`` names a whole-object problem."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or root
        got = err.get("input")
        shown = "" if isinstance(got, Mapping) else f" (got {got!r})"
        parts.append(f"{where}: {err['msg']}{shown}")
    return "; ".join(parts)


class Box(_Record):
    """One axis-aligned box in image pixels, as the reference label format stores it.

    Example:
        >>> Box(class_id=0, left=81, top=123, width=82, height=97).right
        163.0
    """

    class_id: int = Field(ge=0)
    left: float = Field(ge=0)
    top: float = Field(ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)
    score: float | None = Field(default=None, ge=0, le=1)

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.right, self.bottom)

    @classmethod
    def from_xyxy(
        cls, x1: float, y1: float, x2: float, y2: float, class_id: int = 0, score: float | None = None
    ) -> Box:
        return cls(class_id=class_id, left=x1, top=y1, width=x2 - x1, height=y2 - y1, score=score)

    def fits(self, width: int, height: int, tolerance: float = 1e-6) -> bool:
        """True when the box lies inside a ``width`` x ``height`` image."""
        return self.right <= width + tolerance and self.bottom <= height + tolerance


class LabelStatus(str, Enum):
    PENDING_VERIFICATION = "PENDING_VERIFICATION"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class LabelSource(str, Enum):
    HUMAN = "human"
    IMPORT = "import"
    MODEL = "model"


class ImageRecord(_Record):
    """An image in the image store: where it is, what it is, and where it came from."""

    uri: str = Field(min_length=1)
    sha256: Sha256
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    depth: int = Field(ge=1, le=4)
    format: str = Field(pattern=r"^(jpeg|png|bmp|tiff|webp)$")
    size_bytes: int = Field(gt=0)
    source: str = "import"
    captured_at: datetime | None = None
    ingested_at: datetime | None = None
    group: str = Field(min_length=1)
    original_name: str = ""

    @field_validator("captured_at", "ingested_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)


class LabelRecord(_Record):
    """One labelling outcome for one image: an append-only fact in the label store.

    ``record_id`` defaults to a hash of the record's content, so importing the same
    file twice, or retrying a write, yields the same ids and no duplicates.
    ``write_time`` is set by the label store when the record is appended.
    """

    image_uri: str = Field(min_length=1)
    image_sha256: Sha256
    image_width: int = Field(gt=0)
    image_height: int = Field(gt=0)
    image_depth: int = Field(ge=1, le=4)
    annotations: tuple[Box, ...] = ()
    event_time: datetime
    labeling_job: str = ""
    status: LabelStatus = LabelStatus.APPROVED
    annotators: tuple[str, ...] = ()
    agreement: float | None = Field(default=None, ge=0, le=1)
    verifier: str | None = None
    source: LabelSource = LabelSource.IMPORT
    record_id: str = ""
    write_time: datetime | None = None

    @field_validator("event_time", "write_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)

    @model_validator(mode="after")
    def _check(self) -> LabelRecord:
        for i, box in enumerate(self.annotations):
            if not box.fits(self.image_width, self.image_height):
                raise ValueError(
                    f"annotation {i} {box.xyxy} reaches outside the {self.image_width}x{self.image_height} image"
                )
        if not self.record_id:
            object.__setattr__(self, "record_id", self.content_id())
        return self

    def content_id(self) -> str:
        """A stable id from what the record says (not when it was written).

        The repr of a tuple of primitives is unambiguous and stable across
        Python versions (floats print as their shortest round-trip form).
        """
        payload = (
            self.image_sha256,
            self.event_time.timestamp(),
            self.labeling_job,
            self.status.value,
            tuple((b.class_id, b.left, b.top, b.width, b.height, b.score) for b in self.annotations),
            self.annotators,
            self.verifier,
            self.source.value,
        )
        return hashlib.sha256(repr(payload).encode()).hexdigest()[:32]


class DatasetSnapshot(_Record):
    """A reproducible dataset identity: label-store version, as-of time, record ids.

    ``splits`` maps a split name to the record ids in it; the label store returns
    a snapshot without splits, and the training pipeline assigns them.
    """

    label_store_version: int = Field(ge=0)
    as_of: datetime | None = None
    record_ids: tuple[str, ...]
    splits: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    @field_validator("as_of", "created_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)

    @model_validator(mode="after")
    def _check(self) -> DatasetSnapshot:
        known = set(self.record_ids)
        for name, ids in self.splits.items():
            unknown = set(ids) - known
            if unknown:
                raise ValueError(f"split {name!r} names {len(unknown)} record ids not in the snapshot")
        return self

    @property
    def fingerprint(self) -> str:
        """Hash of version and record ids: equal fingerprints mean equal datasets."""
        h = hashlib.sha256(str(self.label_store_version).encode())
        for rid in sorted(self.record_ids):
            h.update(rid.encode())
        return h.hexdigest()[:16]
