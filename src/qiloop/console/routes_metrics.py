"""``GET /metrics``: Prometheus text exposition of the console's and the fleet's metrics (any account's token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from qiloop.labeling.api.deps import Principal, any_user

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request, who: Principal = Depends(any_user)) -> Response:
    """The loop's counts, each device's newest status, and request counts and latencies by route."""
    body = await run_in_threadpool(generate_latest, request.app.state.console.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
