"""The FastAPI app factory of the inference endpoint.

``create_app(holder, options)`` takes a ready :class:`ModelHolder` (the entry
point builds it and loads the first model), wires the inference service, the
routes, the metrics and the body limit, and translates qiloop errors into
HTTP statuses in one exception handler. The watcher and the worker threads
start and stop with the app's lifespan.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from qiloop import __version__
from qiloop.core.errors import QiloopError
from qiloop.httpmetrics import MetricsMiddleware
from qiloop.serving.errors import error_body, http_status
from qiloop.serving.holder import ModelHolder
from qiloop.serving.metrics import ServingMetrics
from qiloop.serving.options import ServeOptions
from qiloop.serving.routes import router
from qiloop.serving.service import InferenceService
from qiloop.serving.uploads import BodyLimitMiddleware

log = logging.getLogger("qiloop.serving")


def create_app(holder: ModelHolder, options: ServeOptions | None = None) -> FastAPI:
    """The endpoint's ASGI app for the model ``holder`` serves.

    Example:
        >>> holder = ModelHolder(PackageSource("pkg"), sessions=2, threads=1, int8=False, poll_s=0)  # doctest: +SKIP
        >>> holder.refresh()  # doctest: +SKIP
        >>> uvicorn.run(create_app(holder), port=8000)  # doctest: +SKIP
    """
    options = options or ServeOptions()
    metrics = ServingMetrics(holder)
    service = InferenceService(holder, options, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        service.start()
        holder.start()
        try:
            yield
        finally:
            holder.stop()
            service.stop()

    app = FastAPI(
        title="qiloop inference",
        version=__version__,
        summary="Detections from the approved model, with the same runtime code as the devices.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.metrics = metrics
    app.include_router(router)

    @app.exception_handler(QiloopError)
    async def _qiloop_error(_request: Request, exc: QiloopError) -> JSONResponse:
        status = http_status(exc)
        if status >= 500 and status != 503:
            log.error("request failed: %s", exc, exc_info=exc)
        metrics.errors.labels(type(exc).__name__).inc()
        return JSONResponse(error_body(exc), status_code=status, headers=_retry(status))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        metrics.errors.labels("InvalidRequest").inc()
        return JSONResponse(_validation_body(exc), status_code=422)

    app.add_middleware(BodyLimitMiddleware, max_bytes=options.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts the body limit's 413s too
    return app


def _retry(status: int) -> dict[str, str]:
    return {"Retry-After": "1"} if status == 503 else {}


def _validation_body(exc: RequestValidationError) -> dict[str, str]:
    """One readable message from FastAPI's validation errors: where, and what is wrong."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return {
        "error": "InvalidRequest",
        "message": "; ".join(problems) or "the request is malformed",
        "hint": "POST the image as multipart/form-data field 'file' (batch: 'files'); "
        "confidence and iou are query numbers in [0, 1]",
    }
