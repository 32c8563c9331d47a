"""What a device says over MQTT: results, status and feedback images.

Every message is a JSON object with a ``kind`` (``result``, ``status``,
``feedback``) and, added by the outbox when it is stored, the ``device_id`` and
``sequence`` that identify it: the cloud side drops a message whose
``(device_id, sequence)`` it has already seen (QoS 1 delivers at least once).

A result also carries the reference inspection app's fields, so consumers built
for it keep working: ``timestamp`` (``str(datetime)`` in UTC), ``image_name``
and ``inference_results`` (``[[[scores]], [[[x_center, y_center, w, h], ...]]]]``,
empty when nothing was detected).

Topics: :mod:`qiloop.protocol.topics` (results on ``qualityinspection/scratch-detection`` by
default, status and feedback under ``qiloop/devices/<device_id>/``). A message leaves a device
signed by the device's key (:mod:`qiloop.protocol.signed`); the signature fields are not part
of these types.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from qiloop.core.detections import Detections
from qiloop.core.errors import InvalidRecordError

FeedbackReason = Literal["uncertain", "no_detection", "sample"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())

    time: datetime = Field(default_factory=_now)
    device_id: str = Field(min_length=1)
    # Set by the outbox when the message is stored; absent on a message not yet queued.
    sequence: int | None = None

    def body(self) -> dict[str, Any]:
        """The JSON-ready mapping to hand to :meth:`Outbox.put` (which adds ``sequence``)."""
        return self.model_dump(mode="json", exclude={"sequence"})


class DetectedBox(BaseModel):
    """One detection in image pixels (top-left corner, width, height), with its class name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_id: int = Field(ge=0)
    class_name: str
    score: float = Field(ge=0, le=1)
    left: float
    top: float
    width: float = Field(ge=0)
    height: float = Field(ge=0)

    @classmethod
    def from_detections(cls, detections: Detections, classes: list[str]) -> list[DetectedBox]:
        out = []
        for (x1, y1, x2, y2), score, cid in zip(
            detections.xyxy.tolist(), detections.scores.tolist(), detections.class_ids.tolist(), strict=True
        ):
            name = classes[cid] if cid < len(classes) else str(cid)
            out.append(
                cls(class_id=cid, class_name=name, score=round(score, 5), left=round(x1, 2), top=round(y1, 2),
                    width=round(x2 - x1, 2), height=round(y2 - y1, 2))
            )  # fmt: skip
        return out


class InferenceResult(_Message):
    """The inspection of one image, as published on the results topic."""

    kind: Literal["result"] = "result"
    image_name: str
    image_sha256: str = ""
    model_name: str
    model_version: str = ""
    detections: list[DetectedBox] = Field(default_factory=list)
    verdict: Literal["pass", "fail"]
    latency_ms: float = Field(ge=0)

    def body(self) -> dict[str, Any]:
        data = super().body()
        data["timestamp"] = str(self.time.astimezone(timezone.utc))
        data["inference_results"] = reference_results(self.detections)
        return data


class DeviceStatus(_Message):
    """A device's periodic health report, published on ``qiloop/devices/<id>/status``."""

    kind: Literal["status"] = "status"
    state: Literal["starting", "running", "stopping", "stopped"] = "running"
    model_name: str = ""
    model_version: str = ""
    uptime_s: float = Field(default=0, ge=0)
    images_processed: int = Field(default=0, ge=0)
    images_rejected: int = Field(default=0, ge=0)
    defects: int = Field(default=0, ge=0)
    defect_rate: float = Field(default=0, ge=0, le=1)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    feedback_sent: int = Field(default=0, ge=0)
    outbox_depth: int = Field(default=0, ge=0)
    outbox_dropped: int = Field(default=0, ge=0)
    outbox_refused: int = Field(default=0, ge=0)


class FeedbackImage(_Message):
    """An image sent back for labelling, with the model's predictions as pre-labels."""

    kind: Literal["feedback"] = "feedback"
    reason: FeedbackReason
    image_name: str
    image_sha256: str
    model_name: str
    model_version: str = ""
    prelabels: list[DetectedBox] = Field(default_factory=list)
    image_b64: str = Field(min_length=1, repr=False)

    def image_bytes(self) -> bytes:
        try:
            return base64.b64decode(self.image_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidRecordError(f"feedback image {self.image_name!r} is not valid base64: {exc}") from exc

    @staticmethod
    def encode_image(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")


AnyMessage = Annotated[InferenceResult | DeviceStatus | FeedbackImage, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[InferenceResult | DeviceStatus | FeedbackImage] = TypeAdapter(AnyMessage)


def reference_results(boxes: list[DetectedBox]) -> list:
    """The reference app's ``inference_results``: ``[[[scores]], [[xywh-center boxes]]]]``, or ``[]``."""
    if not boxes:
        return []
    scores = [b.score for b in boxes]
    xywh = [[b.left + b.width / 2, b.top + b.height / 2, b.width, b.height] for b in boxes]
    return [[[scores], [xywh]]]


def parse_message(payload: bytes | str | Mapping[str, Any]) -> InferenceResult | DeviceStatus | FeedbackImage:
    """Decode a payload (or its already decoded fields) from any of the device topics into its typed message.

    Raises:
        InvalidRecordError: Not JSON, or not a message of a known kind.
    """
    try:
        data = dict(payload) if isinstance(payload, Mapping) else json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRecordError(f"message is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRecordError("message is not a JSON object")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRecordError(
            f"not a qiloop device message ({where}: {first['msg']})",
            hint="devices publish JSON with kind result, status or feedback",
        ) from exc
