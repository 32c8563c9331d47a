"""Alerts: one open per kind and subject, stored, counted for Prometheus, POSTed to a webhook with retries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry

from qiloop.core.retry import Policy
from qiloop.fleet.alerts import Alert, AlertKind, AlertMetrics, Alerts, AlertStore
from qiloop.fleet.webhook import WebhookNotifier

FAST = Policy("test webhook", first_s=0.01, max_s=0.02, attempts=4)


@pytest.fixture
def store(tmp_path):
    s = AlertStore(tmp_path / "fleet.db")
    yield s
    s.close()


def test_one_open_alert_per_kind_and_subject_and_a_new_one_after_it_is_resolved(store):
    first = store.open(Alert(AlertKind.DEVICE_OFFLINE, "cam-1", "offline"))
    assert first is not None and first.id is not None
    assert store.open(Alert(AlertKind.DEVICE_OFFLINE, "cam-1", "still offline")) is None
    assert store.open(Alert(AlertKind.DEVICE_OFFLINE, "cam-2", "offline")) is not None
    assert store.open(Alert(AlertKind.OUTBOX_GROWING, "cam-1", "outbox")) is not None
    resolved = store.resolve(AlertKind.DEVICE_OFFLINE, "cam-1", "heard from again")
    assert resolved is not None and resolved.resolved_at is not None and resolved.resolution == "heard from again"
    assert store.resolve(AlertKind.DEVICE_OFFLINE, "cam-1", "twice") is None
    again = store.open(Alert(AlertKind.DEVICE_OFFLINE, "cam-1", "offline again"))
    assert again is not None and again.id != first.id
    assert [a.message for a in store.list(kind=AlertKind.DEVICE_OFFLINE, subject="cam-1")] == [
        "offline again", "offline"]  # fmt: skip
    assert {a.subject for a in store.list(open_only=True)} == {"cam-1", "cam-2"}
    assert store.open_subjects(AlertKind.DEVICE_OFFLINE) == {"cam-1", "cam-2"}


def test_alerts_survive_a_reopen_and_another_process_sees_the_open_one(tmp_path, store):
    store.open(Alert(AlertKind.ROLLOUT_FAILED, "rollout:abc", "aborted", "critical", {"failed_devices": ["cam-1"]}))
    other = AlertStore(tmp_path / "fleet.db")
    assert other.open(Alert(AlertKind.ROLLOUT_FAILED, "rollout:abc", "aborted")) is None
    (alert,) = other.list()
    assert (alert.severity, alert.details) == ("critical", {"failed_devices": ["cam-1"]})
    assert alert.device_id is None
    other.close()


def test_raising_counts_tells_listeners_and_a_failing_listener_stops_no_one(store):
    registry = CollectorRegistry()
    heard: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("listener down")

    alerts = Alerts(store, AlertMetrics(registry), [broken, heard.append])
    assert alerts.raise_(AlertKind.DEFECT_RATE, "cam-1", "defect rate 30%") is not None
    assert alerts.raise_(AlertKind.DEFECT_RATE, "cam-1", "defect rate 31%") is None  # still open: not again
    alerts.raise_(AlertKind.DEFECT_RATE, "line:a", "defect rate 25%")
    assert [a.subject for a in heard] == ["cam-1", "line:a"]
    assert registry.get_sample_value("qiloop_fleet_alerts_total", {"kind": "defect_rate"}) == 2
    assert registry.get_sample_value("qiloop_fleet_alerts_open", {"kind": "defect_rate"}) == 2
    alerts.clear(AlertKind.DEFECT_RATE, "cam-1", "back to normal")
    AlertMetrics(registry).sync_open(store)  # the same counters again, not a second registration
    assert registry.get_sample_value("qiloop_fleet_alerts_open", {"kind": "defect_rate"}) == 1


class Hook:
    """A real HTTP endpoint answering with the statuses it is given, then 200; it records the bodies."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.bodies = list(statuses), []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.bodies.append(body)
                self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory():
    made: list[Hook] = []

    def make(statuses: list[int]) -> Hook:
        made.append(Hook(statuses))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


def test_the_webhook_gets_the_alert_after_server_errors(store, hook_factory):
    hook = hook_factory([503, 500])
    notifier = WebhookNotifier(hook.url, policy=FAST)
    alert = store.open(Alert(AlertKind.CONFIDENCE_DRIFT, "cam-1", "confidence moved from 0.85 to 0.60"))
    assert notifier.send(alert) is True
    assert len(hook.bodies) == 3 and notifier.sent == 1
    body = hook.bodies[-1]
    assert (body["kind"], body["subject"], body["id"]) == ("confidence_drift", "cam-1", alert.id)
    assert body["text"] == "[qiloop] confidence_drift on cam-1: confidence moved from 0.85 to 0.60"


def test_a_refusing_webhook_is_not_retried_and_an_unreachable_one_gives_up(store, hook_factory):
    hook = hook_factory([400])
    alert = store.open(Alert(AlertKind.DEVICE_OFFLINE, "cam-1", "offline"))
    refused = WebhookNotifier(hook.url, policy=FAST)
    assert refused.send(alert) is False
    assert len(hook.bodies) == 1 and refused.failed == 1
    closed = hook_factory([])
    url = closed.url
    closed.close()
    gone = WebhookNotifier(url, policy=FAST, timeout_s=1)
    assert gone.send(alert) is False and gone.failed == 1


def test_alerts_reach_the_webhook_from_its_own_thread(store, hook_factory):
    hook = hook_factory([])
    with WebhookNotifier(hook.url, policy=FAST) as notifier:
        alerts = Alerts(store, None, [notifier])
        for device in ("cam-1", "cam-2", "cam-3"):
            alerts.raise_(AlertKind.DEVICE_OFFLINE, device, "offline")
    assert sorted(b["subject"] for b in hook.bodies) == ["cam-1", "cam-2", "cam-3"]
    assert notifier.sent == 3
