"""``qiloop edge run`` as a real process against real Mosquitto brokers: the reliability criteria.

Each test starts the app with ``python -m qiloop.cli.main edge run`` on a tiny real
YOLOv8 package (64x96, built once) and tiny generated JPEGs, and judges it only by
what it does: messages a real subscriber receives, files it moves, its outbox file
and its exit code.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from mqtt_helpers import PrivateBroker, Subscriber, free_port, require_mosquitto
from qiloop.edge.inference import Outbox
from qiloop.protocol.messages import FeedbackImage, parse_message
from qiloop.protocol.topics import status_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow]
require_mosquitto()


@pytest.fixture(scope="module")
def package(yolo_package) -> Path:
    return yolo_package


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    """1,000 distinct small JPEGs (48x72)."""
    from PIL import Image

    from onnx_models import random_photo

    out = []
    for i in range(1000):
        buf = io.BytesIO()
        Image.fromarray(random_photo(i, (48, 72))).save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


@pytest.fixture()
def broker(tmp_path):
    b = PrivateBroker(tmp_path / "broker")
    b.start()
    yield b
    b.kill()


def _fill(folder: Path, jpegs: list[bytes], n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"img-{i:04d}.jpg" for i in range(n)]
    for name, data in zip(names, jpegs, strict=False):
        (folder / name).write_bytes(data)
    return names


def _edge(tmp_path: Path, package: Path, *args: str, broker_url: str | None = None, device: str = "cam-1"):
    """Start ``qiloop edge run`` in its own process; its stdout/stderr go to files in ``tmp_path``."""
    cmd = [sys.executable, "-m", "qiloop.cli.main", "edge", "run", "--package", str(package), "--device-id", device,
           "--home", str(tmp_path / "home"), "threads=1", *args]  # fmt: skip
    if "--watch" in args:
        cmd += ["source.poll_s=0.05", "source.settle_s=0.05"]
    if broker_url:
        cmd += ["--broker", broker_url]
    env = {k: v for k, v in os.environ.items() if k != "QILOOP_MQTT_URL"}
    n = len(list(tmp_path.glob("run-*.out")))
    out, err = (tmp_path / f"run-{n}.out").open("w"), (tmp_path / f"run-{n}.err").open("w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    proc.out_path, proc.err_path = out.name, err.name  # type: ignore[attr-defined]
    return proc


def _finish(proc, timeout: float = 120) -> tuple[int, str, str]:
    """Wait for the app; its exit code, stdout and stderr (stderr's line wrapping undone)."""
    rc = proc.wait(timeout)
    return rc, Path(proc.out_path).read_text(), " ".join(Path(proc.err_path).read_text().split())


def _outbox_stats(tmp_path: Path, device: str = "cam-1"):
    box = Outbox(tmp_path / "home" / "devices" / device / "outbox.sqlite", device_id=device, max_bytes=1)
    try:
        return box.stats()
    finally:
        box.close()


def _results_by_image(sub: Subscriber) -> dict[str, set[int]]:
    by_image: dict[str, set[int]] = defaultdict(set)
    for m in sub.of_kind("result"):
        by_image[m["image_name"]].add(m["sequence"])
    return by_image


def _same_payload_per_sequence(sub: Subscriber) -> bool:
    seen: dict[tuple[str, int], dict] = {}
    return all(seen.setdefault((m["device_id"], m["sequence"]), m) == m for m in sub.messages)


def test_a_broker_outage_during_1000_images_loses_no_result(tmp_path, package, jpegs, broker):
    topic = f"qiloop-test/{uuid.uuid4().hex}"
    sub = Subscriber(broker.port, topic, persistent=True)
    names = _fill(tmp_path / "in", jpegs, 1000)
    proc = _edge(tmp_path, package, "--watch", str(tmp_path / "in"), "--max-images", "1000",
                 f"results_topic={topic}", "reconnect_max_s=0.5", "flush_timeout_s=90", "feedback.enabled=false",
                 broker_url=broker.url)  # fmt: skip
    try:
        assert sub.wait_until(lambda s: len(s.messages) >= 100, 60), "no results before the outage"
        broker.kill()
        at_kill = len(set(sub.sequences))
        time.sleep(2.0)
        assert proc.poll() is None, "the app finished before the broker came back; the test proves nothing"
        broker.start()
        rc, _, err = _finish(proc)
        assert rc == 0, err[-2000:]
        assert sub.wait_until(lambda s: len(_results_by_image(s)) >= 1000, 30)
    finally:
        proc.kill()
        sub.close()
    assert at_kill < 1000
    by_image = _results_by_image(sub)
    assert sorted(by_image) == names, f"{1000 - len(by_image)} results lost"
    assert all(len(seqs) == 1 for seqs in by_image.values())  # duplicates only with the same sequence
    assert _same_payload_per_sequence(sub)
    s = _outbox_stats(tmp_path)
    assert (s.depth, s.counts["result"]["enqueued"], s.counts["result"]["delivered"], s.lost) == (0, 1000, 1000, 0)


def test_a_killed_app_restarts_and_delivers_everything_once_per_image(tmp_path, package, jpegs, broker):
    topic = f"qiloop-test/{uuid.uuid4().hex}"
    sub = Subscriber(broker.port, topic)
    folder = tmp_path / "in"
    names = _fill(folder, jpegs, 300)
    common = ("--watch", str(folder), f"results_topic={topic}", "reconnect_max_s=0.5", "feedback.enabled=false")
    proc = _edge(tmp_path, package, *common, broker_url=broker.url)
    try:
        assert sub.wait_until(lambda s: len(s.messages) >= 60, 60), "no results before the kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        before = _outbox_stats(tmp_path)  # the outbox opens cleanly after a SIGKILL
        left = len([p for p in folder.iterdir() if p.is_file()])
        assert 0 < left < 300
        proc = _edge(tmp_path, package, *common, "--max-images", str(left), "--json", broker_url=broker.url)
        rc, _, err = _finish(proc)
        assert rc == 0, err[-2000:]
        assert sub.wait_until(lambda s: len(_results_by_image(s)) >= 300, 20)
        # The crash window between "result stored" and "file moved": the same file comes back.
        shutil.copy(folder / "processed" / names[7], folder / names[7])
        proc = _edge(tmp_path, package, *common, "--max-images", "1", "--json", broker_url=broker.url)
        rc, again, err = _finish(proc)
        assert rc == 0, err[-2000:]
        time.sleep(0.5)
    finally:
        proc.kill()
        sub.close()
    assert before.counts["result"]["enqueued"] >= 60
    by_image = _results_by_image(sub)
    assert sorted(by_image) == names and all(len(seqs) == 1 for seqs in by_image.values())
    assert _same_payload_per_sequence(sub)
    assert json.loads(again)["duplicates_skipped"] == 1
    s = _outbox_stats(tmp_path)
    assert (s.depth, s.counts["result"]["enqueued"], s.counts["result"]["delivered"]) == (0, 300, 300)


@pytest.mark.parametrize("policy", ["oldest", "newest"])
def test_a_full_outbox_applies_the_drop_policy_with_exact_counters(tmp_path, package, jpegs, policy):
    paths = [str(tmp_path / "in" / n) for n in _fill(tmp_path / "in", jpegs, 60)]
    proc = _edge(tmp_path, package, "--files", *paths, "max_outbox_bytes=6000", f"drop_policy={policy}",
                 "flush_timeout_s=0", "feedback.enabled=false", "--json",
                 broker_url=f"mqtt://127.0.0.1:{free_port()}")  # fmt: skip
    rc, out, err = _finish(proc)
    assert rc == 0, err[-2000:]
    summary = json.loads(out)
    s = _outbox_stats(tmp_path)
    for kind, c in s.counts.items():
        assert c["delivered"] == 0, kind  # nothing reachable
    total_depth = sum(c["enqueued"] - c["delivered"] - c["dropped"] for c in s.counts.values())
    assert total_depth == s.depth and 0 < s.queued_bytes <= 6000
    result = s.counts["result"]
    assert summary["images_processed"] == 60 and result["enqueued"] + result["refused"] == 60
    if policy == "oldest":
        assert result["refused"] == 0 and s.total("dropped") > 0
    else:
        assert result["refused"] > 0 and s.total("dropped") == 0
    assert summary["outbox"] == {**{n: s.total(n) for n in ("enqueued", "delivered", "dropped", "refused")},
                                 "depth": s.depth}  # fmt: skip


def test_bad_images_are_moved_aside_and_counted(tmp_path, package, jpegs, broker):
    folder = tmp_path / "in"
    good = _fill(folder, jpegs, 5)
    bad = {"b-corrupt.jpg": os.urandom(500), "b-truncated.jpg": jpegs[9][: len(jpegs[9]) // 2],
           "b-text.png": b"just some words\n", "b-empty.jpg": b""}  # fmt: skip
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    proc = _edge(tmp_path, package, "--watch", str(folder), "--max-images", "9", "--json", broker_url=broker.url)
    rc, out, err = _finish(proc)
    assert rc == 0, err[-2000:]
    summary = json.loads(out)
    assert (summary["images_processed"], summary["images_rejected"]) == (5, 4)
    assert sorted(p.name for p in (folder / "rejected").iterdir()) == sorted(bad)
    assert sorted(p.name for p in (folder / "processed").iterdir()) == good
    assert all(f"rejected {folder / name}" in err for name in bad)


def test_a_tampered_or_missing_package_refuses_to_start(tmp_path, package):
    tampered = tmp_path / "tampered"
    shutil.copytree(package, tampered)
    data = bytearray((tampered / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tampered / "model.onnx").write_bytes(bytes(data))
    (tmp_path / "in").mkdir()
    url = f"mqtt://127.0.0.1:{free_port()}"
    rc, _, err = _finish(_edge(tmp_path, tampered, "--watch", str(tmp_path / "in"), broker_url=url), 60)
    assert rc == 4 and "does not match its manifest" in err
    rc, _, err = _finish(_edge(tmp_path, tmp_path / "nope", "--watch", str(tmp_path / "in"), broker_url=url), 60)
    assert rc == 5 and "not a model package" in err
    rc, _, err = _finish(_edge(tmp_path, package, "--watch", str(tmp_path / "in")), 60)
    assert rc == 2 and "--broker" in err


def test_sigterm_finishes_the_image_flushes_and_says_stopped(tmp_path, package, jpegs, broker):
    topic = f"qiloop-test/{uuid.uuid4().hex}"
    sub = Subscriber(broker.port, [topic, status_topic("cam-1")])
    folder = tmp_path / "in"
    _fill(folder, jpegs, 1000)
    proc = _edge(tmp_path, package, "--watch", str(folder), f"results_topic={topic}", "feedback.enabled=false",
                 broker_url=broker.url)  # fmt: skip
    try:
        assert sub.wait_until(lambda s: len(s.of_kind("result")) >= 30, 60)
        proc.send_signal(signal.SIGTERM)
        rc, out, err = _finish(proc, 30)
        assert sub.wait_until(lambda s: any(m["state"] == "stopped" for m in s.of_kind("status")), 10)
    finally:
        proc.kill()
        sub.close()
    assert rc == 0, err[-2000:]
    moved = sorted(p.name for p in (folder / "processed").iterdir())
    results = sub.of_kind("result")
    assert sorted(m["image_name"] for m in results) == moved  # every moved image has its result, and only those
    assert 30 <= len(moved) < 1000
    final = [m for m in sub.of_kind("status") if m["state"] == "stopped"]
    assert len(final) == 1 and final[0]["images_processed"] == len(moved)
    assert _outbox_stats(tmp_path).depth == 0
    assert "inspected" in out  # the summary table


def test_status_every_interval_with_counters_and_feedback_with_prelabels(tmp_path, package, jpegs, broker):
    sub = Subscriber(broker.port, [status_topic("cam-7"), "qiloop/devices/cam-7/feedback"])
    folder = tmp_path / "in"
    _fill(folder, jpegs, 10)
    proc = _edge(tmp_path, package, "--watch", str(folder), "--duration", "3", "status_interval_s=0.4",
                 "feedback.uncertain_low=0.0", "feedback.uncertain_high=1.0", broker_url=broker.url,
                 device="cam-7")  # fmt: skip
    try:
        rc, _, err = _finish(proc, 60)
        assert rc == 0, err[-2000:]
        assert sub.wait_until(lambda s: any(m["state"] == "stopped" for m in s.of_kind("status")), 10)
    finally:
        proc.kill()
        sub.close()
    statuses = [parse_message(json.dumps(m)) for m in sub.of_kind("status")]
    running = [s for s in statuses if s.state == "running"]
    assert len(running) >= 5
    gaps = sorted((b.time - a.time).total_seconds() for a, b in itertools.pairwise(running[1:]))
    assert 0.3 < gaps[len(gaps) // 2] < 0.6  # the median gap is the interval
    assert statuses[-1].state == "stopped" and statuses[-1].images_processed == 10
    assert statuses[-1].latency_p50_ms > 0 and statuses[-1].device_id == "cam-7"
    feedback = [parse_message(json.dumps(m)) for m in sub.of_kind("feedback")]
    assert feedback and statuses[-1].feedback_sent == len(feedback)
    for f in feedback:
        assert isinstance(f, FeedbackImage) and f.reason == "uncertain" and f.prelabels
        assert hashlib.sha256(f.image_bytes()).hexdigest() == f.image_sha256
