"""Real child processes under the supervisor: placeholders, stop, crash loops, stale children."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from qiloop.core.components import Lifecycle, settings_args
from qiloop.core.errors import ConfigurationError
from qiloop.edge.agent.supervisor import ProcessSpec, Supervisor, fill

SLEEPER = "import time\nwhile True: time.sleep(0.05)"
STUBBORN = (  # says when its handler is in place: a file "ready" in WHERE
    "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "open(os.path.join(os.environ['WHERE'], 'ready'), 'w').close()\nwhile True: time.sleep(0.05)"
)


def _spec(tmp_path, code: str, name: str = "app", **lifecycle) -> ProcessSpec:
    lc = Lifecycle(command=["{python}", "-c", code], environment={"WHERE": "{component}"}, **lifecycle)
    return ProcessSpec.build(name, "1", lc, {"python": sys.executable, "component": str(tmp_path)}, tmp_path)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("template", "expected"),
    [("{python}", "py"), ("--model={model_path}/x", "--model=/m/x"), ("{a-b_path}", "/ab"), ("plain", "plain")],
)
def test_placeholders_are_filled(template, expected):
    assert fill(template, {"python": "py", "model_path": "/m", "a-b_path": "/ab"}) == expected


def test_an_unknown_placeholder_is_an_error():
    with pytest.raises(ConfigurationError, match="camera_dir"):
        fill("{camera_dir}", {"python": "py"})


def test_the_settings_argument_becomes_one_key_value_argument_per_setting(tmp_path):
    lc = Lifecycle(command=["{python}", "-m", "app", "{settings}", "--home", "{component}"])
    settings = settings_args({"feedback": {"sample_rate": 0.2, "enabled": True}, "results_topic": "a b"})
    spec = ProcessSpec.build("app", "1", lc, {"python": "py", "component": "/c"}, tmp_path, settings)
    assert spec.argv == ["py", "-m", "app", "feedback.enabled=true", "feedback.sample_rate=0.2", "results_topic=a b",
                         "--home", "/c"]  # fmt: skip
    assert ProcessSpec.build("app", "1", lc, {"python": "py", "component": "/c"}, tmp_path).argv == [
        "py", "-m", "app", "--home", "/c"
    ]  # fmt: skip


def test_settings_for_a_command_without_the_settings_argument_are_refused(tmp_path):
    lc = Lifecycle(command=["{python}", "-m", "app"])
    with pytest.raises(ConfigurationError, match="takes none"):
        ProcessSpec.build("app", "1", lc, {"python": "py"}, tmp_path, ["threads=2"])


@pytest.mark.parametrize("bad", [["threads=2"], {"": 1}, {"a=b": 1}, {"-x": 1}, {"feedback": {"": 1}}])
def test_settings_that_are_not_named_mappings_are_refused(bad):
    with pytest.raises(ConfigurationError, match=r"mapping|name"):
        settings_args(bad)


def test_start_records_the_child_and_stop_ends_it(tmp_path):
    sup = Supervisor(tmp_path, stop_timeout_s=2)
    sup.start(_spec(tmp_path, SLEEPER))
    pid = sup.children["app"].proc.pid
    assert sup.alive("app") and str(pid) in (tmp_path / "processes.json").read_text()
    assert f"WHERE={tmp_path}".encode() in Path(f"/proc/{pid}/environ").read_bytes()
    sup.stop("app")
    assert not _alive(pid) and "app" not in sup.running()


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    sup = Supervisor(tmp_path, stop_timeout_s=0.5)
    sup.start(_spec(tmp_path, STUBBORN))
    pid = sup.children["app"].proc.pid
    deadline = time.monotonic() + 10
    while not (tmp_path / "ready").exists():  # its SIGTERM handler is installed
        assert time.monotonic() < deadline and _alive(pid), "the child never installed its handler"
        time.sleep(0.01)
    started = time.monotonic()
    sup.stop("app")
    assert not _alive(pid) and 0.4 < time.monotonic() - started < 5


def test_a_crash_loop_marks_the_component_failed(tmp_path):
    sup = Supervisor(tmp_path)
    sup.start(_spec(tmp_path, "raise SystemExit(3)", max_restarts=2, restart_window_s=30))
    deadline = time.monotonic() + 10
    while "app" not in sup.poll():
        assert time.monotonic() < deadline, "no crash loop detected"
        time.sleep(0.05)
    assert len(sup.children["app"].exits) == 3 and not sup.alive("app")  # start + 2 restarts, all died


def test_a_clean_exit_is_not_restarted_on_failure_policy(tmp_path):
    sup = Supervisor(tmp_path)
    sup.start(_spec(tmp_path, "pass", restart="on-failure"))
    sup.children["app"].proc.wait(10)  # it exited; the next poll decides about a restart
    assert sup.poll() == ["app"] and len(sup.children["app"].exits) == 1


def test_a_new_supervisor_kills_the_children_a_dead_one_left(tmp_path):
    old = Supervisor(tmp_path)
    old.start(_spec(tmp_path, SLEEPER))
    recorded = old.children["app"].proc.pid
    old.pid_file.write_text("{}")  # as if the nucleus died between starting a child and recording it
    unrecorded = Supervisor(tmp_path)
    assert unrecorded.kill_stale() == [recorded]
    deadline = time.monotonic() + 5
    while _alive(recorded):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    old.children["app"].proc.wait(5)
    assert Supervisor(tmp_path).kill_stale() == []
    assert os.path.exists(tmp_path / "processes.json")
