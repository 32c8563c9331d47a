"""``qiloop serve`` as a real process: it serves, answers, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from qiloop.cli.main import main
from serving_helpers import sample_jpegs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_a_package_then_stop_on_ctrl_c(serve_package, tmp_path):
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "qiloop.cli.main", "serve", "--model", str(serve_package)]
    command += ["--port", str(port), "--workers-threads", "1", "--home", str(tmp_path / "home")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the server did not come up"
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        name, data = sample_jpegs(1)[0]
        response = httpx.post(f"{url}/v1/detect", files={"file": (name, data, "image/jpeg")})
        assert response.status_code == 200 and response.json()["model_name"] == "test-detector"
        assert httpx.get(f"{url}/v1/model").json()["sessions"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "serving test-detector v1 (model.onnx)" in out and f"127.0.0.1:{port}" in out


def test_serve_a_missing_folder_exits_with_not_found(capsys):
    assert main(["serve", "--model", "./no/such/package"]) == 5
    assert "no model package folder at ./no/such/package" in capsys.readouterr().err
