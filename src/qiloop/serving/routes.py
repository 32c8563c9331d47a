"""The endpoint's routes: parse the request, call the inference service, shape the answer."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qiloop.core.errors import QiloopError
from qiloop.serving.errors import ImageTooLargeError, error_body, http_status
from qiloop.serving.schemas import BatchItem, BatchResult, Detection, ErrorBody, Health, ModelSummary
from qiloop.serving.service import InferenceService

log = logging.getLogger("qiloop.serving")
router = APIRouter()

Confidence = Annotated[
    float | None, Query(ge=0, le=1, description="Keep detections scoring at least this (default: the package's).")
]
IoU = Annotated[float | None, Query(ge=0, le=1, description="NMS overlap threshold (default: the package's).")]


def _service(request: Request) -> InferenceService:
    return request.app.state.service


async def _read(upload: UploadFile, max_bytes: int) -> tuple[bytes, str]:
    """At most ``max_bytes + 1`` bytes of an upload (enough to tell it is too large) and its name."""
    return await upload.read(max_bytes + 1), upload.filename or "image"


@router.post("/v1/detect", response_model=Detection)
async def detect(
    request: Request,
    file: Annotated[UploadFile, File(description="The image (JPEG or PNG).")],
    confidence: Confidence = None,
    iou: IoU = None,
) -> Detection:
    """Detections, verdict and latency for one uploaded image."""
    service = _service(request)
    model = service.model()
    data, name = await _read(file, service.options.max_image_bytes)
    pixels = service.screen(data, name)  # 413 from the header, before admission and decoding
    service.admit(1, large=service.is_large(pixels))
    return await service.submit(model, data, name, confidence, iou, pixels)


@router.post("/v1/detect/batch", response_model=BatchResult)
async def detect_batch(
    request: Request,
    files: Annotated[list[UploadFile], File(description="The images, answered in the same order.")],
    confidence: Confidence = None,
    iou: IoU = None,
) -> BatchResult:
    """One result per file, in order; a file that fails gets its own error, the rest still run."""
    service = _service(request)
    limit = service.options.max_batch_files
    if len(files) > limit:
        raise ImageTooLargeError(
            "<batch>", f"{len(files)} files is more than the limit of {limit}", hint="split the batch"
        )
    model = service.model()  # one model for the whole batch, even across a swap
    uploads = [await _read(f, service.options.max_image_bytes) for f in files]
    screened = [_screen(service, data, name) for data, name in uploads]  # a refused file fails alone
    admitted = [p for p in screened if isinstance(p, int)]
    service.admit(len(admitted), large=sum(map(service.is_large, admitted)))
    outcomes = await asyncio.gather(
        *(
            service.submit(model, data, name, confidence, iou, pixels) if isinstance(pixels, int) else _fail(pixels)
            for (data, name), pixels in zip(uploads, screened, strict=True)
        ),
        return_exceptions=True,
    )
    items = [_item(request, i, name, out) for i, ((_, name), out) in enumerate(zip(uploads, outcomes, strict=True))]
    return BatchResult(items=items, failed=sum(item.status != 200 for item in items))


def _screen(service: InferenceService, data: bytes, name: str) -> int | QiloopError:
    try:
        return service.screen(data, name)
    except QiloopError as exc:
        return exc


async def _fail(exc: QiloopError):
    raise exc


def _item(request: Request, index: int, name: str, outcome: Detection | BaseException) -> BatchItem:
    if isinstance(outcome, Detection):
        return BatchItem(index=index, filename=name, status=200, result=outcome)
    if not isinstance(outcome, QiloopError):
        if not isinstance(outcome, Exception):
            raise outcome  # cancellation and the like end the request
        log.error("batch item %d (%s) failed", index, name, exc_info=outcome)
        outcome = QiloopError(f"{name}: inference failed: {outcome}", hint="see the server log")
    request.app.state.metrics.errors.labels(type(outcome).__name__).inc()
    return BatchItem(index=index, filename=name, status=http_status(outcome), error=ErrorBody(**error_body(outcome)))


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(request: Request):
    """200 with the model's version once one is loaded, 503 before."""
    holder = _service(request).holder
    current = holder.current
    if current is None:
        body = Health(status="unavailable", detail=holder.last_error or "no model loaded yet")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", model_name=current.name, model_version=current.version)


@router.get("/v1/model")
async def model_summary(request: Request) -> ModelSummary:
    """The loaded model: version, origin, classes, input size, thresholds, lineage."""
    return _service(request).model().summary()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text exposition of the endpoint's metrics."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
