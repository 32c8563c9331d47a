"""The supervisor with real child processes: stages, health, a part that dies, a clean stop, no leftovers."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
import time
import uuid

import pytest

from qiloop.stack import processes
from qiloop.stack.health import HttpProbe, LogProbe
from qiloop.stack.ports import free_port
from qiloop.stack.supervisor import Part, PartFailed, Supervisor

PY = sys.executable


def http_part(name: str, port: int, stage: int = 1, timeout: float = 30.0) -> Part:
    argv = (PY, "-m", "http.server", str(port), "--bind", "127.0.0.1")
    url = f"http://127.0.0.1:{port}"
    return Part(name, f"web {name}", argv, HttpProbe(url=f"{url}/"), url, stage=stage, start_timeout=timeout)


def script_part(name: str, code: str, *, ready: str = "ready", timeout: float = 30.0, log_dir=None) -> Part:
    argv = (PY, "-c", textwrap.dedent(code))
    probe = LogProbe(path=str(log_dir / f"{name}.log"), text=ready)
    return Part(name, f"script {name}", argv, probe, start_timeout=timeout)


@pytest.fixture
def supervisors():
    made = []

    def make(parts, tmp_path, **kw):
        sup = Supervisor(parts, log_dir=tmp_path / "logs", stack_id=uuid.uuid4().hex, grace=kw.pop("grace", 3.0), **kw)
        made.append(sup)
        return sup

    yield make
    for sup in made:  # never leave a process behind, even when a test fails
        sup.stop()


def test_parts_start_by_stage_answer_and_stop_with_nothing_left(tmp_path, supervisors):
    first, second = free_port(), free_port()
    seen = []
    sup = supervisors([http_part("b", second, stage=1), http_part("a", first, stage=0)], tmp_path,
                      on_started=lambda parts: seen.append([p.name for p in parts]))  # fmt: skip
    assert sup.start()
    assert seen == [["a"], ["a", "b"]]  # stage 0 was ready before stage 1 started
    assert all(h.ok for h in sup.health().values())
    pids = [p.pid for p in sup.running]
    assert all(os.getpgid(pid) == pid for pid in pids)  # each leads its own process group
    outcome = sup.stop()
    assert outcome == {"b": "terminated", "a": "terminated"}
    assert not any(processes.alive(pid) for pid in pids)
    assert processes.marked(sup.stack_id) == []


def test_a_part_that_exits_while_starting_is_reported_with_its_log(tmp_path, supervisors):
    code = "import sys; print('cannot open the database: disk full'); sys.exit(3)"
    sup = supervisors([script_part("bad", code, log_dir=tmp_path / "logs")], tmp_path)
    with pytest.raises(PartFailed) as caught:
        sup.start()
    assert "exited with code 3" in caught.value.message
    assert "disk full" in caught.value.message


def test_a_part_that_never_answers_times_out(tmp_path, supervisors):
    code = "import time; time.sleep(60)"
    sup = supervisors([script_part("mute", code, timeout=1.0, log_dir=tmp_path / "logs")], tmp_path)
    with pytest.raises(PartFailed, match="not ready within 1 s"):
        sup.start()
    assert sup.stop() == {"mute": "terminated"}


def test_a_part_that_dies_later_is_what_watch_returns(tmp_path, supervisors):
    code = "import time; print('ready', flush=True); time.sleep(1.0); raise SystemExit(7)"
    sup = supervisors([script_part("short", code, log_dir=tmp_path / "logs")], tmp_path)
    assert sup.start()
    ended = sup.watch(threading.Event())
    assert ended is not None and ended.name == "short"
    assert sup.exit_code("short") == 7
    assert "exit code 7" in sup.describe_failure(ended)


def test_watch_returns_none_when_asked_to_stop(tmp_path, supervisors):
    sup = supervisors([http_part("a", free_port())], tmp_path)
    assert sup.start()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    assert sup.watch(stop) is None


def test_a_stop_request_while_starting_returns_false(tmp_path, supervisors):
    code = "import time; time.sleep(60)"
    sup = supervisors([script_part("slow", code, log_dir=tmp_path / "logs")], tmp_path)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    assert sup.start(stop) is False
    assert sup.stop() == {"slow": "terminated"}


def test_children_of_a_part_and_a_part_deaf_to_sigterm_are_stopped(tmp_path, supervisors):
    spawner = """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("ready", child.pid, flush=True)
        time.sleep(60)
    """
    deaf = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """
    logs = tmp_path / "logs"
    sup = supervisors([script_part("spawner", spawner, log_dir=logs), script_part("deaf", deaf, log_dir=logs)],
                      tmp_path, grace=1.0)  # fmt: skip
    assert sup.start()
    child = int((logs / "spawner.log").read_text().split()[1])
    assert processes.alive(child)
    outcome = sup.stop()
    assert outcome == {"deaf": "killed", "spawner": "terminated"}
    assert not processes.alive(child)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finding marked processes reads /proc")
def test_a_process_that_left_its_group_is_found_by_its_marker(tmp_path, supervisors):
    escaper = """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        print("ready", child.pid, flush=True)
        time.sleep(60)
    """
    logs = tmp_path / "logs"
    sup = supervisors([script_part("escaper", escaper, log_dir=logs)], tmp_path)
    assert sup.start()
    child = int((logs / "escaper.log").read_text().split()[1])
    assert child in processes.marked(sup.stack_id)
    outcome = sup.stop()
    assert "leftovers" in outcome and str(child) in outcome["leftovers"]
    deadline = time.monotonic() + 5
    while processes.alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes.alive(child)


def test_a_new_run_keeps_the_previous_log_apart(tmp_path, supervisors):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "p.log").write_text("ready (an old run)\n")
    code = "import time; time.sleep(60)"
    sup = supervisors([script_part("p", code, timeout=1.0, log_dir=logs)], tmp_path)
    with pytest.raises(PartFailed):  # the old "ready" does not count for the new process
        sup.start()
    assert (logs / "p.previous.log").read_text() == "ready (an old run)\n"


def test_part_names_must_be_distinct(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        Supervisor([http_part("a", 1), http_part("a", 2)], log_dir=tmp_path, stack_id="x")
