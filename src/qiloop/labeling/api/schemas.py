"""The JSON the labelling API reads and writes; internals (server paths, row ids of others) never leave.

An image is named by the file name it was stored from (``image_name``); its
sha256 stays as the id scripts use, its place on the server is never shown.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.records import Box
from qiloop.labeling.consolidation import near_duplicates
from qiloop.labeling.prelabel import MergedPrelabel
from qiloop.labeling.tasks import TaskView
from qiloop.labeling.verification import ReviewItem


class BoxesIn(BaseModel):
    """A worker's boxes for one task."""

    model_config = ConfigDict(extra="forbid")

    boxes: list[Box] = Field(default_factory=list, max_length=1000)


class ApproveIn(BaseModel):
    """Approve the consolidated boxes (``boxes`` absent) or the verifier's adjusted ``boxes``."""

    model_config = ConfigDict(extra="forbid")

    boxes: list[Box] | None = Field(default=None, max_length=1000)


class RejectIn(BaseModel):
    """Reject with a reason the next round's labellers will read."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class NewUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    role: str = "labeler"


class DisabledIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: bool = True


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(max_length=32)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=1024)


class JobIn(BaseModel):
    """A new labelling job over images chosen by ``source`` (what ``qiloop labeling jobs create`` asks)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128)
    source: str = Field(default="unlabeled", description="unlabeled: images without an APPROVED label; "
                        "feedback: images devices sent back, with their model's boxes as pre-labels.")  # fmt: skip
    classes: list[str] | None = Field(default=None, max_length=100, description="Default: the configured classes.")
    annotators_per_image: int = 3
    instructions: str = Field(default="", max_length=20_000)
    gold_every: int = 0
    lease_seconds: float = 900.0
    limit: int | None = Field(default=None, ge=1, description="At most this many images.")


class PrelabelOut(BaseModel):
    """A pre-label as the editor shows it: near-duplicates merged into ``box``; ``merged`` says how many."""

    box: Box
    merged: int

    @classmethod
    def of(cls, prelabel: MergedPrelabel) -> PrelabelOut:
        return cls(box=prelabel.box, merged=prelabel.merged)


class ProgressOut(BaseModel):
    """The job's images, those whose labelling is done, and the caller's submitted tasks in it."""

    images: int
    labelled: int
    yours: int


class TaskOut(BaseModel):
    id: int
    job: str
    state: str
    image_sha256: str
    image_name: str = Field(description="The file name the image was stored from.")
    image_url: str
    image_width: int
    image_height: int
    classes: list[str]
    instructions: str
    prelabels: list[Box] = Field(description="The pre-labels as stored (e.g. every box the model reported).")
    prelabels_shown: list[PrelabelOut] = Field(description="The pre-labels with near-duplicates merged.")
    leased_until: datetime
    previous_rejection: str | None = None
    progress: ProgressOut

    @classmethod
    def of(
        cls,
        view: TaskView,
        state: str,
        previous_rejection: str | None,
        *,
        name: str,
        shown: list[MergedPrelabel],
        progress: dict[str, int],
    ) -> TaskOut:
        return cls(
            id=view.id,
            job=view.job,
            state=state,
            image_sha256=view.image_sha256,
            image_name=name,
            image_url=f"/api/v1/images/{view.image_sha256}",
            image_width=view.image_width,
            image_height=view.image_height,
            classes=list(view.classes),
            instructions=view.instructions,
            prelabels=list(view.prelabels),
            prelabels_shown=[PrelabelOut.of(p) for p in shown],
            leased_until=view.leased_until,
            previous_rejection=previous_rejection,
            progress=ProgressOut(**progress),
        )


class ConsolidatedBoxOut(BaseModel):
    box: Box
    annotators: list[str]
    support: float
    mean_iou: float


class NearDuplicateOut(BaseModel):
    """Two consolidated boxes (indices into ``boxes``) of different annotators that look like one defect drawn twice."""

    first: int
    second: int
    overlap: float = Field(description="Intersection over the smaller box's area (each grown by 2 px).")


class ReviewOut(BaseModel):
    item_id: int
    job: str
    image_sha256: str
    image_name: str = Field(description="The file name the image was stored from.")
    image_url: str
    image_width: int
    image_height: int
    round: int
    agreement: float
    classes: list[str]
    boxes: list[ConsolidatedBoxOut]
    near_duplicates: list[NearDuplicateOut]
    annotations: dict[str, list[Box]]

    @classmethod
    def of(cls, item: ReviewItem, classes: list[str], *, name: str) -> ReviewOut:
        return cls(
            item_id=item.item_id,
            job=item.job,
            image_sha256=item.image_sha256,
            image_name=name,
            image_url=f"/api/v1/images/{item.image_sha256}",
            image_width=item.image_width,
            image_height=item.image_height,
            round=item.round,
            agreement=item.agreement,
            classes=classes,
            boxes=[
                ConsolidatedBoxOut(box=c.box, annotators=list(c.annotators), support=c.support, mean_iou=c.mean_iou)
                for c in item.boxes
            ],
            near_duplicates=[
                NearDuplicateOut(first=i, second=j, overlap=v)
                for i, j, v in near_duplicates([c.box for c in item.boxes], owners=[c.annotators for c in item.boxes])
            ],
            annotations={name: list(boxes) for name, boxes in item.annotations.items()},
        )
