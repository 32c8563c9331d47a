"""`qiloop up` as a real process: every part ready, a second `up` refused, camera images reach a labelling job
through Dagster's daemon, and SIGTERM leaves no process behind."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
MAIN = "import sys; from qiloop.cli.main import main; sys.exit(main())"
PORTS = ["--labeling-port", "0", "--dagster-port", "0", "--mlflow-port", "0", "--fleet-port", "0", "--mqtt-port", "0"]
START_S, JOB_S, STOP_S = 300, 300, 90


def qiloop(*args: str, env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", MAIN, *args], env=env, capture_output=True, text=True, **kw)


def camera_images(folder: Path, photos: int = 2) -> set[str]:
    """Synthetic crops written into the camera folder the way a camera should (a temporary name, then a rename)."""
    from PIL import Image

    from qiloop.synth import photo_name, photo_rng, render_photo

    folder.mkdir(parents=True, exist_ok=True)
    shas = set()
    for k in range(photos):
        for crop in render_photo(photo_rng(11, k), (256, 192)).crops():
            out = io.BytesIO()
            Image.fromarray(crop.image).save(out, "PNG")
            name = folder / f"{photo_name(11, k)}-cropped-{crop.position}.png"
            name.with_suffix(".png.part").write_bytes(out.getvalue())
            name.with_suffix(".png.part").replace(name)
            shas.add(hashlib.sha256(out.getvalue()).hexdigest())
    return shas


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


def queued(settings) -> set[str]:
    from qiloop.labeling import jobs
    from qiloop.labeling.db import Database

    if not Path(settings.labeling_db_url.removeprefix("sqlite:///")).exists():
        return set()
    database = Database.from_url(settings.labeling_db_url, create=False)
    try:
        with database.session() as session:
            return jobs.queued_sha256s(session)
    except Exception:  # the schema may not be there yet on the first look
        return set()
    finally:
        database.engine.dispose()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds leftover processes through /proc")
def test_up_runs_the_loop_and_stops_clean(tmp_path):
    for module, extra in (("dagster_webserver", "orchestrate"), ("mlflow", "registry"), ("fastapi", "label"),
                          ("amqtt", "broker")):  # fmt: skip
        pytest.importorskip(module, reason=f"qiloop up needs the {extra} extra")
    from qiloop.settings import Settings

    home = (tmp_path / "home").resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QILOOP_", "DAGSTER_"))}
    env.update(QILOOP_HOME=str(home), QILOOP_LABEL_JOB_MIN_IMAGES="3")
    log = open(tmp_path / "up.log", "w")  # noqa: SIM115 - the child writes to it until it ends
    up = subprocess.Popen([sys.executable, "-c", MAIN, "up", *PORTS, "--start-timeout", str(START_S)], env=env,
                          stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + START_S + 30
        record = home / "stack" / "up.json"
        while time.monotonic() < deadline and up.poll() is None:
            if record.exists() and json.loads(record.read_text())["state"] == "running":
                break
            time.sleep(1)
        assert up.poll() is None, (tmp_path / "up.log").read_text()
        stack = json.loads(record.read_text())
        assert stack["state"] == "running", (tmp_path / "up.log").read_text()
        assert [p["name"] for p in stack["parts"]] == [
            "broker", "mlflow", "labeling", "fleet", "collector", "dagster-webserver", "dagster-daemon"]  # fmt: skip

        second = qiloop("up", *PORTS, env=env, timeout=120)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "already running" in second.stderr and str(up.pid) in second.stderr

        status = qiloop("status", "--json", env=env, timeout=120)
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["running"] is True
        assert {p["name"]: p["state"] for p in report["parts"]} == {p["name"]: "ready" for p in stack["parts"]}

        shas = camera_images(Settings(home=home).camera_folder)
        started, settings = time.monotonic(), Settings(home=home)
        while time.monotonic() - started < JOB_S and not shas <= queued(settings):
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            time.sleep(2)
        waited = time.monotonic() - started
        assert shas <= queued(settings), f"no labelling job for the camera images within {JOB_S} s"
        print(f"camera folder -> labelling job: {waited:.1f} s")
        status = json.loads(qiloop("status", "--json", env=env, timeout=120).stdout)
        assert status["loop"]["jobs_open"] and status["loop"]["images"] >= len(shas)
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
        try:
            code = up.wait(STOP_S)
        except subprocess.TimeoutExpired:
            up.kill()
            code = None
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
    deadline = time.monotonic() + 10
    while processes_of(home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_of(home) == [], "processes left behind"
    assert json.loads((home / "stack" / "up.json").read_text())["state"] == "stopped"
    status = qiloop("status", env=env, timeout=120)
    assert status.returncode == 0 and "not running" in status.stdout
