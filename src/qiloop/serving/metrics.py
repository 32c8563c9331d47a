"""Prometheus metrics of the endpoint, in a registry of its own (one per app).

Request counts and latencies are recorded by :class:`qiloop.httpmetrics.MetricsMiddleware` per
route template (never per raw path, so unknown URLs cannot grow the series);
the model's state (which version is loaded, swaps, failed loads) is read from
the :class:`~qiloop.serving.holder.ModelHolder` when Prometheus scrapes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from qiloop.serving.holder import ModelHolder

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServingMetrics:
    """The endpoint's metrics; ``registry`` is what ``GET /metrics`` exposes."""

    def __init__(self, holder: ModelHolder) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "qiloop_serve_requests", "HTTP requests by route and status", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "qiloop_serve_request_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.images = Counter(
            "qiloop_serve_images", "Images inspected, by verdict", ["verdict"], registry=self.registry
        )
        self.errors = Counter("qiloop_serve_errors", "Errors answered, by kind", ["kind"], registry=self.registry)
        self.registry.register(_HolderCollector(holder))


class _HolderCollector:
    """Reads the holder at scrape time, so the model's state needs no bookkeeping."""

    def __init__(self, holder: ModelHolder) -> None:
        self.holder = holder

    def collect(self):
        info = GaugeMetricFamily(
            "qiloop_serve_model_info", "The loaded model (value 1)", labels=["name", "version", "file"]
        )
        current = self.holder.current
        if current is not None:
            info.add_metric([current.name, current.version, current.detectors[0].model_file], 1)
        yield info
        yield GaugeMetricFamily("qiloop_serve_model_loaded", "1 when a model is loaded", value=int(current is not None))
        yield CounterMetricFamily("qiloop_serve_model_swaps", "Swaps to a new model version", value=self.holder.swaps)
        yield CounterMetricFamily(
            "qiloop_serve_model_load_failures", "New versions that failed to load", value=self.holder.load_failures
        )
        yield CounterMetricFamily(
            "qiloop_serve_model_poll_failures",
            "Source checks or downloads that failed",
            value=self.holder.poll_failures,
        )
