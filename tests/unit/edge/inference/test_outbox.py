"""The durable outbox: order, sequences, budget, counters, threads, and a SIGKILLed writer."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.edge.inference import Outbox, OutboxFullError, Queued, plan_admission
from qiloop.protocol.mqtt import parse_broker_url


def _outbox(tmp_path: Path, **kw) -> Outbox:
    kw.setdefault("max_bytes", 1_000_000)
    return Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", first_sequence=1, **kw)


Q = [Queued(1, "result", 10), Queued(2, "status", 10), Queued(3, "feedback", 10), Queued(4, "result", 10)]


@pytest.mark.parametrize(
    ("used", "size", "policy", "accept", "evict"),
    [
        (40, 10, "oldest", True, ()),  # fits exactly: 50 of 50
        (40, 11, "oldest", True, (2,)),  # status goes first
        (40, 35, "oldest", True, (2, 1, 4)),  # then results, oldest first
        (40, 45, "oldest", True, (2, 1, 4, 3)),  # feedback last
        (40, 51, "oldest", False, ()),  # larger than the whole budget
        (40, 10, "newest", True, ()),
        (40, 11, "newest", False, ()),
        (0, 51, "newest", False, ()),
    ],
)
def test_plan_admission(used, size, policy, accept, evict):
    verdict = plan_admission(Q, used, size, 50, policy)
    assert (verdict.accept, verdict.evict) == (accept, evict)
    assert verdict.accept or verdict.reason


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "user", "password"),
    [
        ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, False, None, None),
        ("mqtt://broker", "broker", 1883, False, None, None),
        ("mqtts://u%40x:p%3Aw@broker.example", "broker.example", 8883, True, "u@x", "p:w"),
    ],
)
def test_parse_broker_url(url, host, port, tls, user, password):
    a = parse_broker_url(url)
    assert (a.host, a.port, a.tls, a.username, a.password) == (host, port, tls, user, password)


@pytest.mark.parametrize("url", ["http://x:1883", "mqtt://", "1883", "mqtt://h:99999"])
def test_parse_broker_url_rejects(url):
    with pytest.raises(ConfigurationError):
        parse_broker_url(url)


def test_put_pending_ack_in_order_and_payload_carries_identity(tmp_path):
    box = _outbox(tmp_path)
    sent = [box.put("t/a", {"n": i}) for i in range(5)]
    assert [m.sequence for m in sent] == [1, 2, 3, 4, 5]
    assert [m.sequence for m in box.pending(3)] == [1, 2, 3]
    assert [m.sequence for m in box.pending(10, after=3)] == [4, 5]
    body = json.loads(box.pending(1)[0].payload)
    assert body == {"n": 0, "device_id": "cam-1", "sequence": 1}
    assert box.ack(2) and not box.ack(2)
    assert [m.sequence for m in box.pending(10)] == [1, 3, 4, 5]
    s = box.stats()
    assert (s.depth, s.counts["result"]["enqueued"], s.counts["result"]["delivered"]) == (4, 5, 1)


def test_sequences_and_counters_survive_reopen(tmp_path):
    with _outbox(tmp_path) as box:
        for _ in range(3):
            box.put("t", b"x", kind="status")
        for seq in (1, 2, 3):
            box.ack(seq)  # the queue is empty now; the next sequence must still be 4
    with _outbox(tmp_path) as box:
        assert box.put("t", b"y").sequence == 4
        s = box.stats()
        assert s.counts["status"] == {"enqueued": 3, "delivered": 3, "dropped": 0, "refused": 0}
        assert (s.depth, s.total("enqueued")) == (1, 4)


def test_an_outbox_belongs_to_one_device(tmp_path):
    _outbox(tmp_path).close()
    with pytest.raises(ConfigurationError, match="belongs to device 'cam-1'"):
        Outbox(tmp_path / "outbox.sqlite", device_id="cam-2", max_bytes=10)


def test_budget_drop_oldest_keeps_exact_counters(tmp_path):
    box = _outbox(tmp_path, max_bytes=100)
    for _ in range(10):
        box.put("t", b"r" * 10)  # 1..10, exactly full
    box.put("t", b"s" * 10, kind="status")  # evicts result 1
    box.put("t", b"f" * 30, kind="feedback")  # evicts results 2, 3, 4
    box.put("t", b"r" * 15)  # evicts status 11, then result 5
    assert [m.sequence for m in box.pending(100)] == [6, 7, 8, 9, 10, 12, 13]
    s = box.stats()
    assert s.counts["result"] == {"enqueued": 11, "delivered": 0, "dropped": 5, "refused": 0}
    assert s.counts["status"] == {"enqueued": 1, "delivered": 0, "dropped": 1, "refused": 0}
    assert s.queued_bytes == 95 and s.depth == s.total("enqueued") - s.total("delivered") - s.total("dropped")
    with pytest.raises(OutboxFullError, match="exceeds the whole"):
        box.put("t", b"x" * 101)
    assert box.stats().counts["result"]["refused"] == 1 and box.depth() == 7


def test_budget_refuse_newest(tmp_path):
    box = _outbox(tmp_path, max_bytes=50, drop_policy="newest")
    for _ in range(5):
        box.put("t", b"r" * 10)
    with pytest.raises(OutboxFullError, match="refuse newest"):
        box.put("t", b"f", kind="feedback")
    box.ack(1)
    assert box.put("t", b"r" * 10).sequence == 6  # a refused message consumes no sequence
    s = box.stats()
    assert s.counts["feedback"] == {"enqueued": 0, "delivered": 0, "dropped": 0, "refused": 1}
    assert s.counts["result"] == {"enqueued": 6, "delivered": 1, "dropped": 0, "refused": 0}
    assert s.lost == 1 and [m.sequence for m in box.pending()] == [2, 3, 4, 5, 6]


def test_bad_configuration_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="drop policy"):
        _outbox(tmp_path, drop_policy="random")
    with pytest.raises(ConfigurationError, match="positive"):
        _outbox(tmp_path, max_bytes=0)


def test_concurrent_puts_from_threads(tmp_path):
    box = _outbox(tmp_path)
    got: list[int] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        for i in range(50):
            seq = box.put("t", {"t": t, "i": i}).sequence
            with lock:
                got.append(seq)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(got) == list(range(1, 201))
    assert [m.sequence for m in box.pending(500)] == list(range(1, 201))
    assert box.stats().counts["result"]["enqueued"] == 200


WRITER = """
import sys
from qiloop.edge.inference import Outbox
box = Outbox(sys.argv[1], device_id="cam-1", max_bytes=10**9, first_sequence=1)
while True:
    m = box.put("t", {"blob": "x" * 2000})
    print(m.sequence, flush=True)
"""


def test_sigkill_mid_put_loses_nothing_put_returned(tmp_path):
    path = tmp_path / "outbox.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    returned: list[int] = []
    try:
        for line in proc.stdout:
            returned.append(int(line))
            if len(returned) >= 300:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and len(returned) == 300
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    box = _outbox(tmp_path)
    stored = [m.sequence for m in box.pending(100_000)]
    assert set(returned) <= set(stored)
    assert stored == list(range(1, len(stored) + 1))  # no gaps, no torn rows
    assert box.stats().counts["result"]["enqueued"] == len(stored)
    assert box.put("t", b"after").sequence == len(stored) + 1


HEAVY = ["torch", "ultralytics", "mlflow", "dagster", "fastapi", "sqlalchemy", "deltalake", "polars", "pyarrow", "cv2"]


def test_the_inference_package_imports_no_framework():
    code = f"import sys, qiloop.edge.inference; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"qiloop.edge.inference pulled in {out} at import"


def test_put_once_stores_a_key_only_once_and_across_restarts(tmp_path):
    box = _outbox(tmp_path)
    first = box.put_once("result:a.jpg:ff", "t", {"n": 1})
    assert first is not None and box.put_once("result:a.jpg:ff", "t", {"n": 2}) is None
    assert box.ack(first.sequence)  # delivered; the key stays
    box.close()
    box = _outbox(tmp_path)
    assert box.put_once("result:a.jpg:ff", "t", {"n": 3}) is None
    assert box.put_once("result:b.jpg:ee", "t", {"n": 4}) is not None
    s = box.stats()
    assert (s.counts["result"]["enqueued"], s.depth) == (2, 1)  # a skipped put counts nothing
    assert box.prune_keys(older_than_s=3600) == 0
    assert box.prune_keys(older_than_s=-1) == 2  # both keys are older than "a second from now"
    assert box.put_once("result:a.jpg:ff", "t", {"n": 5}) is not None
    box.close()


def test_a_refused_keyed_message_leaves_no_key(tmp_path):
    box = _outbox(tmp_path, max_bytes=60, drop_policy="newest")
    assert box.put_once("k1", "t", {"pad": "x" * 10}) is not None
    with pytest.raises(OutboxFullError):
        box.put_once("k2", "t", {"pad": "x" * 10})
    box.ack(1)
    assert box.put_once("k2", "t", {"pad": "x" * 10}) is not None  # retried once there is room
    box.close()


def test_a_new_file_numbers_from_the_clock_so_a_replaced_outbox_never_reuses_a_sequence(tmp_path):
    before = int(time.time() * 1_000_000)
    first = Outbox(tmp_path / "a.sqlite", device_id="cam-1", max_bytes=10_000)
    old = [first.put("t", b"x").sequence for _ in range(3)]
    first.close()
    assert before <= old[0] < old[1] < old[2] < 2**53  # exact as a JSON number
    replaced = Outbox(tmp_path / "b.sqlite", device_id="cam-1", max_bytes=10_000)  # a new file for the same device
    assert replaced.put("t", b"y").sequence > old[-1]
    reopened = Outbox(tmp_path / "a.sqlite", device_id="cam-1", max_bytes=10_000)
    assert reopened.put("t", b"z").sequence == old[-1] + 1  # an existing file keeps counting
