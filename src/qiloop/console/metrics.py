"""Prometheus metrics of the console and the fleet, in a registry of the app's own.

Requests are counted and timed per route template (never per raw path, so
unknown URLs cannot grow the series). The loop's counts and each device's
newest status are read when Prometheus scrapes, from the same cached state the
Loop page shows, so a scrape every 15 s costs a few cheap queries.

Scrape with an API token (``qiloop labeling users token NAME``)::

    scrape_configs:
      - job_name: qiloop
        authorization: {type: Bearer, credentials_file: /etc/prometheus/qiloop.token}
        static_configs: [{targets: ["console.example:8080"]}]
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from qiloop.console.loop_state import loop_state
from qiloop.console.sources import ConsoleSources

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ConsoleMetrics:
    """The console's metrics; ``registry`` is what ``GET /metrics`` exposes."""

    def __init__(self, sources: ConsoleSources, model_name: str) -> None:
        self.registry = CollectorRegistry()  # no auto-describe: the collectors read the stores only when scraped
        self.requests = Counter(
            "qiloop_console_requests", "HTTP requests by route and status", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "qiloop_console_request_seconds", "Request latency by route", ["route"], buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.registry.register(LoopCollector(sources, model_name))
        self.registry.register(FleetCollector(sources))


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class LoopCollector:
    """The loop's counts at each stage, read at scrape time."""

    def __init__(self, sources: ConsoleSources, model_name: str) -> None:
        self.sources, self.model_name = sources, model_name

    def collect(self):
        s = loop_state(self.sources, self.model_name)
        yield _gauge("qiloop_images", "Images in the image store", s.images)
        yield _gauge(
            "qiloop_images_waiting_for_labels", "Images without an approved label, in no job", s.waiting_for_labels
        )
        yield _gauge("qiloop_labelling_images_in_jobs", "Images in live labelling jobs, not yet approved", s.in_jobs)
        yield _gauge("qiloop_labelling_jobs_open", "Open labelling jobs", s.jobs_open)
        yield _gauge("qiloop_labelling_tasks_leased", "Tasks leased to labellers now", s.tasks_leased)
        yield _gauge("qiloop_labels_approved_images", "Images whose latest label is approved", s.approved_images)
        yield _gauge(
            "qiloop_labels_approved_since_training", "Approved labels written since the newest model version",
            s.approved_since_training,
        )  # fmt: skip
        yield _gauge(
            "qiloop_feedback_waiting", "Images devices sent back, not labelled and in no job", s.feedback_waiting
        )
        yield _gauge("qiloop_models_candidates", "Model versions pending manual approval", s.candidates)
        info = GaugeMetricFamily("qiloop_model_production_info", "The production model version (value 1)",
                                 labels=["model", "ref"])  # fmt: skip
        if s.production:
            info.add_metric([s.model_name, s.production], 1)
        yield info


class FleetCollector:
    """Devices online and each device's newest status report, read at scrape time."""

    def __init__(self, sources: ConsoleSources) -> None:
        self.sources = sources

    def collect(self):
        fleet, results = self.sources.fleet(), self.sources.results()
        devices = fleet.devices() if fleet is not None else []
        latest = results.latest_status() if results is not None else {}
        presence = self.sources.presence()
        online = {d.device_id: bool(presence.get(d.device_id) and presence[d.device_id].online) for d in devices}
        yield _gauge("qiloop_fleet_devices", "Devices known to the fleet controller", len(devices))
        yield _gauge("qiloop_fleet_devices_online", "Devices seen within the online timeout", sum(online.values()))
        rollouts = fleet.rollouts(active=True) if fleet is not None else []
        yield _gauge("qiloop_fleet_rollouts_active", "Rollouts not ended", len(rollouts))
        families = {
            "online": GaugeMetricFamily("qiloop_device_online", "1 when the device was heard from recently",
                                        labels=["device"]),
            "seen": GaugeMetricFamily("qiloop_device_last_seen_timestamp_seconds", "When the device was last seen",
                                      labels=["device"]),
            "images": GaugeMetricFamily("qiloop_device_images_processed", "Images inspected since the app started",
                                        labels=["device"]),
            "defects": GaugeMetricFamily("qiloop_device_defect_rate", "Share of failed inspections", labels=["device"]),
            "p50": GaugeMetricFamily("qiloop_device_latency_p50_ms", "Median inspection latency", labels=["device"]),
            "p95": GaugeMetricFamily("qiloop_device_latency_p95_ms", "95th percentile latency", labels=["device"]),
            "depth": GaugeMetricFamily("qiloop_device_outbox_depth", "Messages waiting in the outbox",
                                       labels=["device"]),
            "dropped": GaugeMetricFamily("qiloop_device_outbox_dropped", "Messages the outbox dropped",
                                         labels=["device"]),
        }  # fmt: skip
        for d in devices:
            key = [d.device_id]
            families["online"].add_metric(key, int(online[d.device_id]))
            seen = presence.get(d.device_id)
            if seen is not None and seen.last_seen is not None:
                families["seen"].add_metric(key, seen.last_seen.timestamp())
            status = latest.get(d.device_id)
            if status is None:
                continue
            families["images"].add_metric(key, status.images_processed)
            families["defects"].add_metric(key, status.defect_rate)
            if status.latency_p50_ms is not None:
                families["p50"].add_metric(key, status.latency_p50_ms)
            if status.latency_p95_ms is not None:
                families["p95"].add_metric(key, status.latency_p95_ms)
            families["depth"].add_metric(key, status.outbox_depth)
            families["dropped"].add_metric(key, status.outbox_dropped)
        yield from families.values()
        alerts = self.sources.alerts()
        open_alerts = GaugeMetricFamily("qiloop_fleet_alerts_open", "Fleet alerts open now, by kind", labels=["kind"])
        if alerts is not None:
            counts: dict[str, int] = {}
            for alert in alerts.list(open_only=True, limit=0):
                counts[alert.kind.value] = counts.get(alert.kind.value, 0) + 1
            for kind, n in sorted(counts.items()):
                open_alerts.add_metric([kind], n)
        yield open_alerts
