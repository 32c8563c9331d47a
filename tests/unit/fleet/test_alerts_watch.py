"""The fleet watcher on real fleet databases: offline, outbox, rollout, defect-rate and drift alerts.

The labelling trigger runs against a real labelling database and image store:
a drift alert on a device opens a job on that device's recent feedback images.
"""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image
from prometheus_client import CollectorRegistry

from qiloop.core.deployments import ComponentRef, Target
from qiloop.fleet.alert_labeling import LabelingTrigger, open_device_job
from qiloop.fleet.alerts import AlertKind, AlertMetrics, Alerts, AlertStore
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.results_db import ResultsDB
from qiloop.fleet.rollout import Phase, Rollout
from qiloop.fleet.watch import FleetWatch, WatchRules
from qiloop.protocol.messages import DetectedBox, DeviceStatus, InferenceResult
from qiloop.protocol.reports import DeviceHello
from qiloop.settings import Settings
from qiloop.storage.feedback import FeedbackEntry

RULES = WatchRules(offline_after_s=60, outbox_reports=3, outbox_min_depth=50, defect_window=50,
                   defect_baseline=200, drift_min_samples=100)  # fmt: skip


@pytest.fixture
def fleet(tmp_path):
    settings = Settings(home=tmp_path / "home")
    registry, results = FleetDB.from_settings(settings), ResultsDB.from_settings(settings)
    store = AlertStore.from_settings(settings)
    metrics = CollectorRegistry()
    alerts = Alerts(store, AlertMetrics(metrics))
    watch = FleetWatch(alerts, results, registry, RULES)
    watch.settings, watch.metrics_registry = settings, metrics
    yield watch
    results.close()
    registry.close()
    store.close()


def result(device: str, seq: int, *, fail: bool = False, score: float = 0.9) -> InferenceResult:
    box = DetectedBox(class_id=0, class_name="scratch", score=score, left=1, top=1, width=5, height=5)
    return InferenceResult(device_id=device, sequence=seq, image_name=f"{seq}.png", model_name="m",
                           model_version="1", detections=[box], verdict="fail" if fail else "pass",
                           latency_ms=20)  # fmt: skip


def test_a_silent_device_goes_offline_and_its_alert_clears_when_it_reports(fleet):
    now = datetime.now(timezone.utc)
    fleet.registry.add_hello(
        DeviceHello(device_id="cam-1", groups=["line-a"]), at=(now - timedelta(minutes=5)).timestamp()
    )
    fleet.results.add_status(DeviceStatus(device_id="cam-2", sequence=1), received_at=now)
    opened = fleet.check(now)
    assert [(a.kind, a.subject) for a in opened] == [(AlertKind.DEVICE_OFFLINE, "cam-1")]
    assert fleet.check(now) == []  # still offline: the open alert stands, no second one
    fleet.results.add_status(DeviceStatus(device_id="cam-1", sequence=1), received_at=now)
    assert fleet.check(now) == []
    (alert,) = fleet.alerts.store.list(kind=AlertKind.DEVICE_OFFLINE)
    assert alert.resolution == "heard from again"
    assert fleet.metrics_registry.get_sample_value("qiloop_fleet_alerts_open", {"kind": "device_offline"}) == 0


def test_an_outbox_growing_over_successive_reports_raises_and_draining_clears(fleet):
    now = datetime.now(timezone.utc)
    for seq, depth in enumerate([10, 40, 90]):
        fleet.results.add_status(DeviceStatus(device_id="cam-1", sequence=seq, outbox_depth=depth), received_at=now)
        opened = fleet.check(now)
    assert [(a.kind, a.details["depths"]) for a in opened] == [(AlertKind.OUTBOX_GROWING, [10, 40, 90])]
    fleet.results.add_status(DeviceStatus(device_id="cam-1", sequence=9, outbox_depth=20), received_at=now)
    fleet.check(now)
    assert fleet.alerts.store.list(kind=AlertKind.OUTBOX_GROWING, open_only=True) == []


def test_an_aborted_rollout_raises_one_alert_ever(fleet):
    ref = ComponentRef(name="qiloop-model", version="1.0.0", digest="a" * 64)
    rollout = Rollout(target=Target(kind="group", name="line-a"), components=[ref], phase=Phase.ABORTED,
                      created_at=time.time(), phase_since=time.time(), reason="canary cam-1 failed",
                      outcome={"cam-1": "FAILED", "cam-2": "SUCCEEDED"})  # fmt: skip
    fleet.registry.save_rollout(rollout)
    (alert,) = fleet.check()
    assert (alert.kind, alert.subject, alert.severity) == (
        AlertKind.ROLLOUT_FAILED,
        f"rollout:{rollout.id}",
        "critical",
    )
    assert alert.details["failed_devices"] == ["cam-1"] and "canary cam-1 failed" in alert.message
    fleet.alerts.store.resolve_id(alert.id, "looked at")
    assert fleet.check() == []  # resolved by a person: not raised again


def test_a_defect_rate_jump_on_a_line_and_its_device(fleet):
    fleet.registry.add_hello(DeviceHello(device_id="cam-1", groups=["line-a"]))
    fleet.check()  # learns the lines
    seq = 0
    for i in range(400):
        seq += 1
        fleet.observe(result("cam-1", seq, fail=i % 25 == 0))  # 4 %
    for i in range(60):
        seq += 1
        fleet.observe(result("cam-1", seq, fail=i % 2 == 0))  # 50 %
    subjects = {(a.kind, a.subject) for a in fleet.check()}
    assert {(AlertKind.DEFECT_RATE, "cam-1"), (AlertKind.DEFECT_RATE, "line:line-a")} <= subjects
    for i in range(60):
        seq += 1
        fleet.observe(result("cam-1", seq, fail=i % 25 == 0))
    fleet.check()
    assert fleet.alerts.store.list(kind=AlertKind.DEFECT_RATE, open_only=True) == []


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_confidence_drift_opens_a_labelling_job_on_the_devices_recent_feedback(fleet):
    pytest.importorskip("sqlalchemy")
    from qiloop.labeling.db import Database
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    settings = fleet.settings
    images = ImageStore.from_settings(settings)
    now = datetime.now(timezone.utc)
    for device, n in (("cam-1", 3), ("cam-2", 2)):
        for i in range(n):
            record = images.ingest_bytes(png(len(device) * 100 + int(device[-1]) * 10 + i), name=f"{device}-{i}.png",
                                         source=f"feedback:{device}")  # fmt: skip
            images.feedback.append([FeedbackEntry(
                image_sha256=record.sha256, image_name=f"{device}-{i}.png", device_id=device, sequence=i,
                reason="uncertain", model_name="m", sent_at=now, received_at=now - timedelta(hours=2 * i),
            )])  # fmt: skip
    trigger = LabelingTrigger.from_settings(settings, lookback=timedelta(hours=3))
    fleet.alerts.listeners.append(trigger)
    rng = np.random.default_rng(5)
    seq = 0
    for s in np.clip(rng.normal(0.9, 0.03, 400), 0, 1):
        seq += 1
        fleet.observe(result("cam-1", seq, score=float(s)))
    for s in np.clip(rng.normal(0.55, 0.03, 200), 0, 1):
        seq += 1
        fleet.observe(result("cam-1", seq, score=float(s)))
    opened = fleet.check()
    drift = [a for a in opened if a.kind is AlertKind.CONFIDENCE_DRIFT]
    assert [a.subject for a in drift] == ["cam-1"]
    assert drift[0].details["mean_before"] > drift[0].details["mean_after"]
    (job,) = trigger.opened
    db = Database.from_url(settings.labeling_db_url)
    from qiloop.labeling.jobs import get_job, summary

    with db.session() as session:
        made = summary(session, get_job(session, job))
    assert made.images == 2  # cam-1's feedback of the last 3 hours; not cam-2's, not the one 4 hours old
    assert (
        open_device_job(
            db, images, LabelStore.from_settings(settings), "cam-1", since=now - timedelta(hours=3), classes=["scratch"]
        )
        is None
    )  # fmt: skip  (those images are in a job now)
    db.dispose()
