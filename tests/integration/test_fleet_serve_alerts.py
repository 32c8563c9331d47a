"""``qiloop fleet serve`` runs the fleet watcher on its collector: a silent device raises an offline alert."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mqtt_helpers import PrivateBroker, free_port, require_mosquitto
from qiloop.fleet.alerts import AlertKind, AlertStore
from qiloop.fleet.registry_db import FleetDB
from qiloop.protocol.reports import DeviceHello

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _serve(tmp_path, broker_url: str, *flags: str) -> tuple[subprocess.Popen, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QILOOP_")} | {"QILOOP_FLEET_OFFLINE_AFTER_S": "60"}
    argv = [sys.executable, "-m", "qiloop.cli.main", "fleet", "serve", "--home", str(tmp_path / "home"),
            "--broker", broker_url, "--port", str(free_port()), *flags]  # fmt: skip
    log = tmp_path / f"serve{'-'.join(flags)}.log"
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env), log


def _offline(home) -> list:
    store = AlertStore(home / "fleet.db")
    try:
        return store.list(kind=AlertKind.DEVICE_OFFLINE, subject="cam-9")
    finally:
        store.close()


def test_fleet_serve_raises_an_offline_alert_for_a_silent_device(tmp_path):
    require_mosquitto()
    broker = PrivateBroker(tmp_path / "broker")
    broker.start()
    home = tmp_path / "home"
    db = FleetDB(home / "fleet.db")  # a device last heard from an hour ago
    db.add_hello(DeviceHello(device_id="cam-9", groups=["line-1"]), at=time.time() - 3600)
    db.close()
    serve, log = _serve(tmp_path, broker.url, "--no-watch")
    try:
        deadline = time.monotonic() + 60
        while "qiloop agent run" not in log.read_text():
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        time.sleep(12)  # longer than the watcher's first check
        assert _offline(home) == [] and "qiloop fleet alerts" not in log.read_text()  # --no-watch: nobody watches
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    serve, log = _serve(tmp_path, broker.url)
    try:
        deadline = time.monotonic() + 60
        while not _offline(home):
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        (alert,) = _offline(home)
        assert alert.resolved_at is None and "offline" in alert.message
        assert "qiloop fleet alerts" in log.read_text()
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0, log.read_text()
        broker.kill()
