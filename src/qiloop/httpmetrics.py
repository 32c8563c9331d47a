"""Request metrics for the ASGI apps: every HTTP request counted and timed by route template and status.

Shared by the inference endpoint (``qiloop.serving.metrics``) and the console
(``qiloop.console.metrics``); each brings its own Prometheus counter and histogram.
The route template (``/jobs/{job_id}``), never the raw path, names a series, so
unknown URLs cannot grow the number of series.
"""

from __future__ import annotations

import time
from typing import Protocol


class RequestMetrics(Protocol):
    """What the middleware records into: ``requests`` (labels route, status) and ``latency`` (label route)."""

    requests: object
    latency: object


class MetricsMiddleware:
    """ASGI middleware: count and time every HTTP request by its route template and status.

    Args:
        app: The ASGI app to wrap.
        metrics: Holds the Prometheus ``requests`` counter and ``latency`` histogram.
    """

    def __init__(self, app, metrics: RequestMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, started = 500, time.perf_counter()

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
