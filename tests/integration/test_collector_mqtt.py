"""The collector against real brokers (Mosquitto on 1883 and the embedded one), fed by real device code.

The device side is the real ``Outbox`` + ``MqttPublisher``. A duplicate is made
the way a device makes one: the same stored payload (same ``device_id`` and
``sequence``) sent again. Every test uses its own topics and client ids, so
runs in parallel on the shared Mosquitto do not see each other's messages, and
removes its persistent session from the broker at the end.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest

from device_messages import Device, png
from mqtt_helpers import require_broker
from qiloop.broker import EmbeddedBroker
from qiloop.cli.main import main
from qiloop.core.records import Box
from qiloop.core.retry import STORE_WRITE
from qiloop.edge.inference import MqttPublisher, Outbox
from qiloop.fleet.collector import Collector
from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.signed import MessageSigner
from qiloop.settings import Settings
from qiloop.storage.image_store import ImageStore


@pytest.fixture(params=[pytest.param("mosquitto", marks=pytest.mark.broker), "embedded"])
def url(request):
    if request.param == "mosquitto":
        require_broker()
        yield "mqtt://127.0.0.1:1883"
    else:
        with EmbeddedBroker() as broker:
            yield broker.url


@dataclass
class Fleet:
    """Unique topics and ids for one test, and the settings of its qiloop home."""

    url: str
    settings: Settings
    ns: str = ""

    def __post_init__(self) -> None:
        self.ns = f"qiloop-test-{uuid.uuid4().hex[:10]}"
        self.results_topic, self.device_root = f"{self.ns}/results", f"{self.ns}/devices"
        self.collector_id = f"{self.ns}-collector"

    def collector(self) -> Collector:
        return Collector.connect(self.url, self.settings, client_id=self.collector_id,  # unsigned test devices
                                 results_topic=self.results_topic, device_root=self.device_root,
                                 verify_devices=False)  # fmt: skip

    def send(self, box: Outbox, timeout: float = 20) -> None:
        """Drain the outbox through the real device publisher; returns once the broker acknowledged everything."""
        with MqttPublisher.connect(self.url, box, f"{self.ns}-{box.device_id}", max_inflight=10) as pub:
            assert pub.flush(timeout), f"outbox still holds {box.depth()} messages"

    def forget_session(self) -> None:
        """Connect once with a clean session under the collector's id, so the broker drops what it kept."""
        host, port = self.url.removeprefix("mqtt://").split(":")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.collector_id, clean_session=True)
        client.connect(host, int(port))
        client.loop_start()
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def fleet(url, tmp_path):
    f = Fleet(url, Settings(home=tmp_path / "home", mqtt_url=url))
    yield f
    f.forget_session()


def test_results_status_and_feedback_are_stored_once_with_exact_counts(fleet, tmp_path):
    device = Device("cam-1")
    status_topic, feedback_topic = f"{fleet.device_root}/cam-1/status", f"{fleet.device_root}/cam-1/feedback"
    good = png(7)
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", max_bytes=50_000_000)
    # The payloads are built by hand with the device's encoder so their sequences are known;
    # the outbox stores them as given (bytes), exactly as it would re-send them.
    results = [box.put(fleet.results_topic, device.result(i, "fail" if i % 2 else "pass")) for i in range(1, 6)]
    box.put(status_topic, device.status(6), kind="status")
    box.put(status_topic, device.status(7), kind="status")
    box.put(feedback_topic, device.feedback(8, good), kind="feedback")
    box.put(feedback_topic, device.feedback(9, b"", b64="%%% not base64 %%%"), kind="feedback")
    box.put(feedback_topic, device.feedback(10, b"GIF89a but not really"), kind="feedback")
    box.put(fleet.results_topic, results[0].payload)  # result 1 again
    box.put(feedback_topic, device.feedback(8, good), kind="feedback")  # the good feedback again

    arrived = []
    collector = fleet.collector()
    collector.on_result(arrived.append)
    with collector:
        fleet.send(box)
        assert collector.wait_idle(timeout=15, quiet=0.5)
        stats = collector.stats()
    box.close()

    assert stats.of("result") == {"received": 6, "stored": 5, "duplicate": 1, "rejected": 0, "invalid": 0, "failed": 0}
    assert stats.of("status") == {"received": 2, "stored": 2, "duplicate": 0, "rejected": 0, "invalid": 0, "failed": 0}
    assert stats.of("feedback") == {"received": 4, "stored": 1, "duplicate": 1, "rejected": 0, "invalid": 2,
                                    "failed": 0}  # fmt: skip
    assert stats.total("received") == 12 and set(stats.counts) == {"result", "status", "feedback"}
    assert sorted(r.sequence for r in arrived) == [1, 2, 3, 4, 5]

    with ResultsDB.from_settings(fleet.settings) as db:
        assert db.counts() == {"results": 5, "status_reports": 2, "devices": 1, "feedback": 1}
        stored = {r.message.sequence: r.message for r in db.results(limit=0)}
        assert db.latest_status()["cam-1"].images_processed == 7
    assert stored[1].verdict == "fail" and stored[2].verdict == "pass" and len(stored[1].detections) == 1

    store = ImageStore.from_settings(fleet.settings)
    sha = hashlib.sha256(good).hexdigest()
    assert [(r.sha256, r.source) for r in store.list()] == [(sha, "feedback:cam-1")]
    assert store.read_bytes(sha) == good
    (entry,) = store.feedback.list()
    assert (entry.image_sha256, entry.device_id, entry.sequence, entry.reason) == (sha, "cam-1", 8, "uncertain")
    assert entry.prelabels == [Box(class_id=0, left=3, top=4, width=10, height=6, score=0.41),
                               Box(class_id=0, left=0, top=1, width=3, height=5, score=0.3)]  # fmt: skip


def test_a_restarted_collector_gets_what_was_published_while_it_was_away(fleet, tmp_path):
    device = Device("cam-2")
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-2", max_bytes=10_000_000)
    first = box.put(fleet.results_topic, device.result(1))
    with fleet.collector() as collector:
        fleet.send(box)
        assert collector.wait_idle(timeout=10)
        assert collector.stats().of("result")["stored"] == 1
    # The collector is away: the broker keeps its session and queues QoS 1 messages for it.
    for i in range(2, 12):
        box.put(fleet.results_topic, device.result(i))
    box.put(fleet.results_topic, first.payload)  # stored before the restart: the database remembers
    fleet.send(box)
    box.close()
    with fleet.collector() as collector:
        deadline = time.monotonic() + 15
        while collector.stats().total("received") < 11 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.wait_idle(timeout=10)
        expected = {"received": 11, "stored": 10, "duplicate": 1, "rejected": 0, "invalid": 0, "failed": 0}
        assert collector.stats().of("result") == expected
    with ResultsDB.from_settings(fleet.settings) as db:
        assert sorted(r.message.sequence for r in db.results(limit=0)) == list(range(1, 12))


@pytest.mark.slow
def test_the_cli_collects_and_lists(tmp_path, capsys):
    home = str(tmp_path / "home")
    assert main(["collect", "--home", home, "--duration", "1"]) == 2  # no broker given, none configured
    assert "no MQTT broker" in capsys.readouterr().err

    topic = f"qiloop-test-{uuid.uuid4().hex[:10]}/results"
    device = Device(f"cam-{uuid.uuid4().hex[:6]}")
    box = Outbox(tmp_path / "outbox.sqlite", device_id=device.device_id, max_bytes=10_000_000)
    key = MessageSigner.from_key_file(tmp_path / "device.pem")  # the collector believes enrolled devices only
    assert main(["fleet", "add-key", "--device", device.device_id, "--key", encode_public_key(key.public_key),
                 "--home", home]) == 0  # fmt: skip
    capsys.readouterr()
    with EmbeddedBroker() as broker:

        def publish_later() -> None:
            time.sleep(1.5)  # the collector is subscribed by then
            for i in range(1, 4):
                box.put(topic, device.result(i))
            with MqttPublisher.connect(broker.url, box, device.device_id, signer=key) as pub:
                pub.flush(10)

        sender = threading.Thread(target=publish_later)
        sender.start()
        args = ["collect", "--broker", broker.url, "--topic", topic, "--duration", "4", "--home", home]
        rc = main([*args, "--client-id", f"cli-{uuid.uuid4().hex[:6]}"])
        sender.join()
    box.close()
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.count(device.device_id) == 3 and "img-2.png" in out and "fail" in out
    assert "3 received: 3 stored, 0 duplicate, 0 invalid, 0 failed" in out

    assert main(["results", "ls", "--home", home, "--json", "--device", device.device_id, "--limit", "2"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["sequence"] for r in listed] == [3, 2] and listed[0]["verdict"] == "fail"
    assert main(["images", "feedback", "--home", home, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def _block_image_store(settings: Settings):
    """Make the image store unwritable for real: a plain file where its blob folder must go."""
    blobs = settings.home / "images" / "blobs"
    blobs.parent.mkdir(parents=True, exist_ok=True)
    blobs.write_bytes(b"in the way")
    return blobs


def test_a_storage_outage_holds_the_message_until_the_store_is_back(fleet, tmp_path):
    device = Device("cam-4")
    blocker = _block_image_store(fleet.settings)
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-4", max_bytes=10_000_000)
    box.put(f"{fleet.device_root}/cam-4/feedback", device.feedback(1, png(4)), kind="feedback")
    collector = fleet.collector()
    collector.retry = STORE_WRITE.with_(first_s=0.3, max_s=0.3, attempts=21)
    with collector:
        threading.Timer(1.0, blocker.unlink).start()  # the store comes back after a second
        fleet.send(box)
        deadline = time.monotonic() + 15
        while collector.stats().of("feedback")["received"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.wait_idle(timeout=15)
        assert collector.stats().of("feedback") == {
            "received": 1,
            "stored": 1,
            "duplicate": 0,
            "rejected": 0,
            "invalid": 0,
            "failed": 0,
        }
    box.close()
    assert len(ImageStore.from_settings(fleet.settings).feedback.list("cam-4")) == 1


def test_a_message_that_cannot_be_stored_is_kept_in_the_dead_letter_folder(fleet, tmp_path):
    device = Device("cam-5")
    _block_image_store(fleet.settings)
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-5", max_bytes=10_000_000)
    payload = device.feedback(1, png(5))
    box.put(f"{fleet.device_root}/cam-5/feedback", payload, kind="feedback")
    collector = fleet.collector()
    collector.retry = STORE_WRITE.with_(first_s=0.1, max_s=0.1, attempts=3)
    with collector:
        fleet.send(box)
        deadline = time.monotonic() + 15
        while collector.stats().of("feedback")["received"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.wait_idle(timeout=15)
        assert collector.stats().of("feedback")["failed"] == 1
    box.close()
    (parked,) = (fleet.settings.home / "fleet-dead-letter").iterdir()
    kept = json.loads(parked.read_text())
    assert kept["topic"] == f"{fleet.device_root}/cam-5/feedback"
    assert json.loads(kept["payload"]) == json.loads(payload)  # the whole message, image included


def test_a_failure_that_would_repeat_goes_to_the_dead_letter_folder_without_waiting(fleet, tmp_path):
    device = Device("cam-6")
    box = Outbox(tmp_path / "outbox.sqlite", device_id="cam-6", max_bytes=10_000_000)
    box.put(f"{fleet.device_root}/cam-6/feedback", device.feedback(1, png(6)), kind="feedback")
    collector = fleet.collector()
    collector.retry = STORE_WRITE.with_(first_s=30.0, max_s=30.0)  # a retry would hold the message for minutes
    collector.intake.db.close()  # reading through a closed connection is a bug, not an outage: retrying cannot help
    with collector:
        fleet.send(box)
        deadline = time.monotonic() + 15
        while collector.stats().of("feedback")["received"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert collector.stats().of("feedback")["failed"] == 1
    box.close()
    assert len(list((fleet.settings.home / "fleet-dead-letter").iterdir())) == 1
