"""The JSON the endpoint answers with; detections are the device's wire type, ``DetectedBox``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qiloop.protocol.messages import DetectedBox


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())


class ImageSize(_Out):
    name: str
    width: int
    height: int


class Detection(_Out):
    """The inspection of one image."""

    model_name: str
    model_version: str
    image: ImageSize
    detections: list[DetectedBox]
    verdict: Literal["pass", "fail"]
    defect_threshold: float = Field(description="A detection scoring at least this fails the image.")
    confidence: float
    iou: float
    latency_ms: float = Field(description="Decoding, pre-processing, inference and post-processing.")


class ErrorBody(_Out):
    error: str
    message: str
    hint: str | None = None


class BatchItem(_Out):
    """One file of a batch: its result, or the error that refused it alone."""

    index: int
    filename: str
    status: int
    result: Detection | None = None
    error: ErrorBody | None = None


class BatchResult(_Out):
    items: list[BatchItem]
    failed: int


class Health(_Out):
    status: Literal["ok", "unavailable"]
    model_name: str | None = None
    model_version: str | None = None
    detail: str | None = None


ModelSummary = dict[str, Any]
