"""``qiloop serve`` fails at start when its first model cannot be found, instead of polling for ever.

Real parts: the MLflow registry (SQLite in a temporary home) and the CLI as a process, with a
timeout, so a server that keeps running instead of failing fails the test.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("mlflow", reason="the registry needs the registry extra")


@pytest.fixture
def home(tmp_path):
    """A home whose registry knows the model name scratch-detector, with no version yet."""
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    home = tmp_path / "home"
    ModelRegistry.from_settings(Settings(home=home))._ensure_model("scratch-detector")
    return home


def serve(home, *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "qiloop.cli.main", "serve", *args, "--port", "0", "--home", str(home)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_an_unknown_model_exits_5_at_once_naming_the_registered_ones(home):
    done = serve(home, "--model", "bogus@production")
    assert done.returncode == 5, done.stdout + done.stderr
    assert "cannot serve bogus@production: no registered model named 'bogus'" in done.stderr
    assert "registered models: scratch-detector" in done.stderr and "--wait-for-model" in done.stderr
    assert "serving" not in done.stdout


def test_a_model_with_no_production_version_exits_5(home):
    done = serve(home, "--model", "scratch-detector@production")
    assert done.returncode == 5, done.stdout + done.stderr
    assert "cannot serve scratch-detector@production" in done.stderr


def test_wait_for_model_starts_without_one_and_answers_503(home):
    import time

    import httpx

    from mqtt_helpers import free_port

    port = free_port()
    argv = [sys.executable, "-m", "qiloop.cli.main", "serve", "--model", "scratch-detector@production",
            "--wait-for-model", "--port", str(port), "--home", str(home)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the server did not come up"
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health.status_code == 503 and "production" in health.json()["detail"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert "no model to serve yet" in out
