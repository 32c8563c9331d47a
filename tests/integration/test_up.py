"""`qiloop up` as a real process: every part ready, a second `up` refused, camera images reach a labelling job
through Dagster's daemon, and SIGTERM leaves no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camera_helpers import camera_images, queued

pytestmark = pytest.mark.slow
MAIN = "import sys; from qiloop.cli.main import main; sys.exit(main())"
START_S, JOB_S, STOP_S = 300, 300, 90


def qiloop(*args: str, env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", MAIN, *args], env=env, capture_output=True, text=True, **kw)


def processes_of(home: Path) -> list[int]:
    """Processes whose environment names this home (every part and whatever it spawned inherits it)."""
    needle = f"QILOOP_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds leftover processes through /proc")
def test_up_runs_the_loop_and_stops_clean(tmp_path):
    for module, extra in (("dagster_webserver", "orchestrate"), ("mlflow", "registry"), ("fastapi", "label"),
                          ("amqtt", "broker")):  # fmt: skip
        pytest.importorskip(module, reason=f"qiloop up needs the {extra} extra")
    from qiloop.settings import Settings
    from qiloop.stack.background import FREE_PORTS, BackgroundStack

    home = (tmp_path / "home").resolve()
    stack = BackgroundStack.start(home, env={"QILOOP_LABEL_JOB_MIN_IMAGES": "3"}, timeout=START_S)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("QILOOP_", "DAGSTER_"))},
           "QILOOP_HOME": str(home)}  # fmt: skip
    try:
        assert [p.name for p in stack.record.parts] == [
            "broker", "mlflow", "labeling", "fleet", "collector", "dagster-webserver", "dagster-daemon"]  # fmt: skip

        second = qiloop("up", *FREE_PORTS, env=env, timeout=120)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "already running" in second.stderr and str(stack.process.pid) in second.stderr

        status = qiloop("status", "--json", env=env, timeout=120)
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["running"] is True
        assert {p["name"]: p["state"] for p in report["parts"]} == {p.name: "ready" for p in stack.record.parts}

        settings = Settings(home=home)
        shas = camera_images(settings.camera_folder, 6)
        started = time.monotonic()
        while time.monotonic() - started < JOB_S and not shas <= queued(settings):
            stack.check_alive("a labelling job")
            time.sleep(2)
        waited = time.monotonic() - started
        assert shas <= queued(settings), f"no labelling job for the camera images within {JOB_S} s"
        print(f"camera folder -> labelling job: {waited:.1f} s")
        status = json.loads(qiloop("status", "--json", env=env, timeout=120).stdout)
        assert status["loop"]["jobs_open"] and status["loop"]["images"] >= len(shas)
    finally:
        code = stack.stop(STOP_S)
    assert code == 0, stack.log_tail()
    deadline = time.monotonic() + 10
    while processes_of(home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_of(home) == [], "processes left behind"
    assert json.loads((home / "stack" / "up.json").read_text())["state"] == "stopped"
    status = qiloop("status", env=env, timeout=120)
    assert status.returncode == 0 and "not running" in status.stdout
