"""Results through the real broker into the day-partitioned Delta tables: batched, complete, crash-safe.

Devices are the real ``Outbox`` + ``MqttPublisher`` signing with keys registered in the
home, as enrolled devices do; the collector is the real one, checking them
(``Collector.connect``, and ``qiloop collect`` in a separate process for the crash).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import paho.mqtt.client as mqtt
import polars as pl
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from deltalake import DeltaTable

from device_messages import Device
from mqtt_helpers import require_broker
from qiloop.edge.inference import MqttPublisher, Outbox
from qiloop.fleet.collector import Collector
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.signed import MessageSigner
from qiloop.settings import Settings

URL = "mqtt://127.0.0.1:1883"
pytestmark = pytest.mark.broker


@pytest.fixture
def ns():
    require_broker()
    name = f"qiloop-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-collector", clean_session=True)
    client.connect("127.0.0.1", 1883)  # a clean session under the collector's id: the broker forgets it
    client.loop_start()
    client.disconnect()
    client.loop_stop()


def enrol(settings: Settings, device_id: str) -> MessageSigner:
    """A device key for ``device_id``, registered in the home's fleet database as an admin would."""
    signer = MessageSigner(Ed25519PrivateKey.generate())
    registry = FleetDB.from_settings(settings)
    registry.add_device_key(device_id, encode_public_key(signer.public_key))
    registry.close()
    return signer


def publish(tmp_path, ns: str, settings: Settings, devices: int, per_device: int) -> None:
    """Each device's outbox holds ``per_device`` results and a status report; drained, signed, through the broker."""
    for d in range(devices):
        device = Device(f"cam-{d}")
        signer = enrol(settings, device.device_id)
        box = Outbox(tmp_path / f"outbox-{d}.sqlite", device_id=device.device_id, max_bytes=50_000_000)
        for i in range(1, per_device + 1):
            box.put(f"{ns}/results", device.result(i, "fail" if i % 5 == 0 else "pass"))
        box.put(f"{ns}/devices/{device.device_id}/status", device.status(per_device + 1), kind="status")
        with MqttPublisher.connect(URL, box, f"{ns}-{device.device_id}", max_inflight=20, signer=signer) as pub:
            assert pub.flush(30), f"{device.device_id}'s outbox still holds {box.depth()} messages"
        box.close()


def written_batches(url: str) -> list[int]:
    history = DeltaTable(url).history()
    return [int(e["operationMetrics"]["num_added_rows"]) for e in history if e.get("operation") == "WRITE"]


def test_every_result_lands_once_in_batches(tmp_path, ns):
    settings = Settings(home=tmp_path / "home", fleet_results_batch=100, fleet_results_flush_s=0.5)
    collector = Collector.connect(URL, settings, client_id=f"{ns}-collector", results_topic=f"{ns}/results",
                                  device_root=f"{ns}/devices")  # fmt: skip
    with collector:
        publish(tmp_path, ns, settings, devices=4, per_device=150)
        assert collector.wait_idle(timeout=30, quiet=1.0)
        assert collector.stats().of("result")["stored"] == 600
    stored = pl.read_delta(str(tmp_path / "home" / "fleet-results" / "results"))
    assert stored.height == 600
    assert stored.select(["device_id", "sequence"]).unique().height == 600
    assert stored.filter(pl.col("verdict") == "fail").height == 120
    batches = written_batches(str(tmp_path / "home" / "fleet-results" / "results"))
    assert sum(batches) == 600 and max(batches) <= 100 and len(batches) < 600 / 10  # batches, not messages
    assert pl.read_delta(str(tmp_path / "home" / "fleet-results" / "status")).height == 4
    with ResultsDB.from_settings(settings) as db:
        assert db.pending() == 0
        assert [r.message.sequence for r in db.results(device="cam-2", limit=3)] == [150, 149, 148]


def test_a_killed_collector_loses_nothing_it_acknowledged(tmp_path, ns):
    home = tmp_path / "home"
    env = {**os.environ, "QILOOP_FLEET_RESULTS_FLUSH_S": "3600", "QILOOP_FLEET_RESULTS_BATCH": "100000"}
    code = "import sys; from qiloop.cli.main import main; sys.exit(main(sys.argv[1:]))"
    args = ["collect", "--broker", URL, "--topic", f"{ns}/results", "--client-id", f"{ns}-collector", "--quiet",
            "--no-watch", "--home", str(home)]  # fmt: skip
    command = [sys.executable, "-c", code, *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        journal = home / "fleet.db"
        deadline = time.monotonic() + 60
        while not journal.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # subscribed by then; the broker keeps the session from here on anyway
        publish(tmp_path, ns, Settings(home=home), devices=2, per_device=100)  # the broker acknowledged them all
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _journalled(journal) < 200:
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)  # no flush, no clean disconnect
        process.wait(10)
    assert _journalled(journal) == 200  # handled = journalled (the CLI follows results only); no table yet
    assert not (home / "fleet-results" / "results").exists()
    settings = Settings(home=home)
    with ResultsDB.from_settings(settings) as db:  # the next writer flushes what the killed one journalled
        assert db.flush() == 200
    stored = pl.read_delta(str(home / "fleet-results" / "results"))
    assert sorted(stored.filter(pl.col("device_id") == "cam-1")["sequence"].to_list()) == list(range(1, 101))
    with Collector.connect(URL, settings, client_id=f"{ns}-collector", results_topic=f"{ns}/results",
                           device_root=f"{ns}/devices") as again:  # fmt: skip
        assert again.wait_idle(timeout=10, quiet=1.5)
        redelivered = again.stats().of("result")
    assert redelivered["stored"] == 0  # what the broker re-delivered (if anything) was already there
    assert pl.read_delta(str(home / "fleet-results" / "results")).height == 200


def _journalled(path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute("SELECT COUNT(*) FROM results_journal").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        db.close()
