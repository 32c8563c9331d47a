"""From the broker to a webhook: a device whose confidences drift raises an alert while the collector runs.

Real parts throughout: an enrolled device's outbox and publisher (signed messages),
Mosquitto, the collector with the fleet watcher attached as ``qiloop collect`` does,
the alert store, the Prometheus counters and an HTTP endpoint receiving the webhook.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY

from mqtt_helpers import require_broker
from qiloop.edge.inference import MqttPublisher, Outbox
from qiloop.edge.inference.outbox import encode_payload
from qiloop.fleet.alerts import AlertKind, AlertStore
from qiloop.fleet.collector import Collector
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.watch import watching
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.messages import DetectedBox, InferenceResult
from qiloop.protocol.signed import MessageSigner
from qiloop.settings import Settings

URL = "mqtt://127.0.0.1:1883"
pytestmark = pytest.mark.broker


@pytest.fixture
def hook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", received
    server.shutdown()
    server.server_close()


def result(device: str, sequence: int, score: float) -> bytes:
    box = DetectedBox(class_id=0, class_name="scratch", score=score, left=4, top=4, width=20, height=3)
    body = InferenceResult(device_id=device, image_name=f"tag-{sequence}.png", model_name="scratch-detector",
                           model_version="3", detections=[box], verdict="fail", latency_ms=30.0).body()  # fmt: skip
    return encode_payload(body, device, sequence)


def test_a_confidence_drift_reaches_the_webhook(tmp_path, hook):
    require_broker()
    url, received = hook
    ns = f"qiloop-test-{uuid.uuid4().hex[:10]}"
    settings = Settings(home=tmp_path / "home", fleet_alert_webhook_url=url, fleet_results_flush_s=0.5)
    signer = MessageSigner(Ed25519PrivateKey.generate())
    registry = FleetDB.from_settings(settings)
    registry.add_device_key("cam-drift", encode_public_key(signer.public_key))
    scores = np.clip(np.r_[np.random.default_rng(9).normal(0.9, 0.03, 300),
                           np.random.default_rng(10).normal(0.5, 0.03, 200)], 0, 1)  # fmt: skip
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-drift", max_bytes=50_000_000)
    for i, score in enumerate(scores, start=1):
        box.put(f"{ns}/results", result("cam-drift", i, float(score)))
    raised_before = REGISTRY.get_sample_value("qiloop_fleet_alerts_total", {"kind": "confidence_drift"}) or 0.0

    collector = Collector.connect(URL, settings, client_id=f"{ns}-collector", results_topic=f"{ns}/results",
                                  device_root=f"{ns}/devices")  # fmt: skip
    try:
        with collector, watching(collector, settings, registry) as watch:
            with MqttPublisher.connect(URL, box, f"{ns}-cam-drift", max_inflight=20, signer=signer) as pub:
                assert pub.flush(30)
            assert collector.wait_idle(timeout=30, quiet=1.0)
            assert collector.stats().of("result")["stored"] == 500
            opened = watch.check()  # the watcher's thread does this every 10 s; here at once
    finally:
        box.close()
        registry.close()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{ns}-collector", clean_session=True)
        client.connect("127.0.0.1", 1883)
        client.disconnect()

    drift = [a for a in opened if a.kind is AlertKind.CONFIDENCE_DRIFT]
    assert [a.subject for a in drift] == ["cam-drift"]
    assert (
        drift[0].details["mean_before"] > 0.8 and drift[0].details["mean_after"] < drift[0].details["mean_before"] - 0.1
    )
    sent = [(b["subject"], b["id"]) for b in received if b["kind"] == "confidence_drift"]
    assert sent == [("cam-drift", drift[0].id)]
    stored = AlertStore.from_settings(settings)
    assert [a.id for a in stored.list(open_only=True, kind=AlertKind.CONFIDENCE_DRIFT)] == [drift[0].id]
    stored.close()
    raised = REGISTRY.get_sample_value("qiloop_fleet_alerts_total", {"kind": "confidence_drift"})
    assert raised == raised_before + 1
