"""The lock file makes qiloop up one per home; the record tells status what runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest

from qiloop.stack.health import HttpProbe, TcpProbe
from qiloop.stack.record import RunningPart, StackLock, StackRecord, StackRunningError, read_record, write_record


def test_a_second_lock_on_the_same_home_is_refused_until_the_first_is_released(tmp_path):
    first = StackLock(tmp_path).acquire()
    with pytest.raises(StackRunningError) as caught:
        StackLock(tmp_path).acquire()
    assert "already running" in caught.value.message
    assert caught.value.exit_code == 2
    assert StackLock(tmp_path).held_elsewhere()
    first.release()
    assert not StackLock(tmp_path).held_elsewhere()
    with StackLock(tmp_path):
        pass


def test_a_lock_held_by_another_process_names_its_pid_and_dies_with_it(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from qiloop.stack.record import StackLock
        StackLock(Path({str(tmp_path)!r})).acquire()
        print("held", flush=True)
        time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StackRunningError, match=f"pid {holder.pid}"):
            StackLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    StackLock(tmp_path).acquire().release()  # the kernel dropped the lock with the process: never stale


def test_the_record_round_trips_with_its_probes(tmp_path):
    assert read_record(tmp_path) is None
    parts = [
        RunningPart(name="labeling", title="labelling service", url="http://127.0.0.1:1", pid=10, log="l.log",
                    probe=HttpProbe(url="http://127.0.0.1:1/healthz")),
        RunningPart(name="broker", title="MQTT broker", pid=11, log="b.log", probe=TcpProbe(host="127.0.0.1", port=2)),
    ]  # fmt: skip
    record = StackRecord(stack_id="abc", pid=1, home=str(tmp_path), host="127.0.0.1",
                         started_at=datetime.now(timezone.utc), parts=parts, state="running")  # fmt: skip
    write_record(tmp_path, record)
    back = read_record(tmp_path)
    assert back == record
    assert isinstance(back.parts[1].probe, TcpProbe)


def test_an_unreadable_record_reads_as_none(tmp_path):
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "up.json").write_text("{not json")
    assert read_record(tmp_path) is None
