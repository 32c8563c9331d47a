"""The JSON the labelling API reads and writes; internals (hashes, row ids of others) never leave."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.records import Box
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


class TaskOut(BaseModel):
    id: int
    job: str
    state: str
    image_sha256: str
    image_uri: str
    image_url: str
    image_width: int
    image_height: int
    classes: list[str]
    instructions: str
    prelabels: list[Box]
    leased_until: datetime
    previous_rejection: str | None = None

    @classmethod
    def of(cls, view: TaskView, state: str, previous_rejection: str | None) -> TaskOut:
        return cls(
            id=view.id,
            job=view.job,
            state=state,
            image_sha256=view.image_sha256,
            image_uri=view.image_uri,
            image_url=f"/api/v1/images/{view.image_sha256}",
            image_width=view.image_width,
            image_height=view.image_height,
            classes=list(view.classes),
            instructions=view.instructions,
            prelabels=list(view.prelabels),
            leased_until=view.leased_until,
            previous_rejection=previous_rejection,
        )


class ConsolidatedBoxOut(BaseModel):
    box: Box
    annotators: list[str]
    support: float
    mean_iou: float


class ReviewOut(BaseModel):
    item_id: int
    job: str
    image_sha256: str
    image_uri: str
    image_url: str
    image_width: int
    image_height: int
    round: int
    agreement: float
    classes: list[str]
    boxes: list[ConsolidatedBoxOut]
    annotations: dict[str, list[Box]]

    @classmethod
    def of(cls, item: ReviewItem, classes: list[str]) -> ReviewOut:
        return cls(
            item_id=item.item_id,
            job=item.job,
            image_sha256=item.image_sha256,
            image_uri=item.image_uri,
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
            annotations={name: list(boxes) for name, boxes in item.annotations.items()},
        )
