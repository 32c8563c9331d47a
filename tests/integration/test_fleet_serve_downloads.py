"""``qiloop fleet serve`` configured for a real fleet: HTTPS and per-device tokens from the settings alone."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from mqtt_helpers import PrivateBroker, free_port, reachable, require_mosquitto
from qiloop.broker.certs import issue, new_ca

pytestmark = pytest.mark.broker


def status(url: str, context: ssl.SSLContext) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_fleet_serve_serves_https_and_only_to_a_devices_own_url(tmp_path):
    require_mosquitto()
    broker = PrivateBroker(tmp_path / "broker")
    broker.start()
    ca = new_ca()
    cert, key = issue(ca, "127.0.0.1", hosts=["127.0.0.1"]).write(tmp_path / "tls", "fleet")
    (tmp_path / "tls" / "ca.pem").write_bytes(ca.cert_pem)
    trusted = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.pem"))
    home, port = tmp_path / "home", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QILOOP_")} | {
        "QILOOP_FLEET_DOWNLOAD_TOKENS": "1", "QILOOP_FLEET_TLS_CERT_FILE": str(cert),
        "QILOOP_FLEET_TLS_KEY_FILE": str(key),
    }  # fmt: skip
    qiloop = [sys.executable, "-m", "qiloop.cli.main"]
    argv = [*qiloop, "fleet", "serve", "--home", str(home), "--broker", broker.url, "--port", str(port), "--no-collect"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while "download-url" not in log.read_text():
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert reachable(port) and f"https://127.0.0.1:{port}" in log.read_text()
        base = f"https://127.0.0.1:{port}"
        own = subprocess.run([*qiloop, "fleet", "download-url", "--device", "cam-1", "--base", base, "--home",
                              str(home)], capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
        assert own.returncode == 0, own.stderr
        device_url = own.stdout.strip()
        assert status(f"{base}/v1/components/qiloop-inference/1", trusted) == 401
        assert status(f"{base}/d/cam-2/{device_url.rsplit('/', 1)[1]}/v1/components/qiloop-inference/1", trusted) == 403
        assert status(f"{device_url}/v1/components/qiloop-inference/1", trusted) == 404  # let in; nothing published
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
        broker.kill()
