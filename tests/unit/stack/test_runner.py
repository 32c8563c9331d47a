"""run_stack end to end with the lightest part (the embedded broker), and what a killed qiloop up leaves."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timezone

import pytest

from qiloop.settings import Settings
from qiloop.stack import processes
from qiloop.stack.health import TcpProbe
from qiloop.stack.parts_health import stack_health
from qiloop.stack.plan import PART_NAMES, StackOptions
from qiloop.stack.record import RunningPart, StackLock, StackRecord, StackRunningError, read_record, write_record
from qiloop.stack.runner import _stop_leftovers, run_stack

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_run_stack_starts_reports_and_stops_the_broker(tmp_path):
    pytest.importorskip("amqtt", reason="the embedded broker needs the broker extra")
    settings = Settings(home=tmp_path)
    options = StackOptions(ports={"broker": 0}, without=frozenset(set(PART_NAMES) - {"broker"}), start_timeout=60)
    stop, seen = threading.Event(), {}

    def ready(record, health):
        seen["record"], seen["health"] = record.model_copy(deep=True), health
        seen["status"] = stack_health(tmp_path)
        with pytest.raises(StackRunningError):  # a second qiloop up on this home is refused
            StackLock(tmp_path).acquire()
        stop.set()

    outcome = run_stack(settings, options, stop, on_ready=ready)
    assert outcome.failed is None
    assert outcome.stopped == {"broker": "terminated"}
    assert seen["record"].state == "running" and [p.name for p in seen["record"].parts] == ["broker"]
    assert seen["health"]["broker"].ok
    status = seen["status"]
    assert status.running and status.healthy and [p.state for p in status.parts] == ["ready"]
    record = read_record(tmp_path)
    assert record.state == "stopped"
    assert not processes.alive(record.parts[0].pid)
    assert not stack_health(tmp_path).running
    assert (tmp_path / "stack" / "logs" / "broker.log").exists()


def _killed_stack(home, argv) -> tuple[subprocess.Popen, str]:
    """A part still running after its qiloop up was killed: a record left 'running', the lock free."""
    stack_id = uuid.uuid4().hex
    env = {**os.environ, processes.STACK_ID_VAR: stack_id}
    child = subprocess.Popen(argv, env=env, start_new_session=True)
    part = RunningPart(name="broker", title="MQTT broker", pid=child.pid, log="x.log", argv=argv,
                       probe=TcpProbe(host="127.0.0.1", port=1))  # fmt: skip
    write_record(home, StackRecord(stack_id=stack_id, pid=1, home=str(home), host="127.0.0.1",
                                   started_at=datetime.now(timezone.utc), state="running", parts=[part]))  # fmt: skip
    return child, stack_id


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_parts_of_a_killed_qiloop_up_are_shown_then_stopped_by_the_next(tmp_path):
    child, _ = _killed_stack(tmp_path, SLEEP)
    try:
        status = stack_health(tmp_path)
        assert not status.running and status.orphans == [child.pid]
        assert _stop_leftovers(tmp_path) == [child.pid]
        assert child.wait(10) is not None
        assert stack_health(tmp_path).orphans == []
    finally:
        child.kill()
        child.wait()


def test_a_stopped_record_leaves_nothing_to_stop(tmp_path):
    child, _ = _killed_stack(tmp_path, SLEEP)
    try:
        record = read_record(tmp_path)
        record.state = "stopped"
        write_record(tmp_path, record)
        assert _stop_leftovers(tmp_path) == []
        assert processes.alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_part_that_dies_stops_the_stack_and_is_reported(tmp_path):
    pytest.importorskip("amqtt", reason="the embedded broker needs the broker extra")
    options = StackOptions(ports={"broker": 0}, without=frozenset(set(PART_NAMES) - {"broker"}), start_timeout=60)
    stop = threading.Event()
    bound = threading.Timer(120, stop.set)  # should the death go unnoticed
    bound.start()

    def ready(record, health):
        os.kill(record.parts[0].pid, 9)

    try:
        outcome = run_stack(Settings(home=tmp_path), options, stop, on_ready=ready)
    finally:
        bound.cancel()
    assert outcome.failed is not None and outcome.failed.name == "broker"
    assert "exit code -9" in outcome.detail and "broker.log" in outcome.detail
    assert read_record(tmp_path).state == "failed"
