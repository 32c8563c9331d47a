"""``qiloop broker run`` and ``qiloop fleet serve`` listen where devices can be told to connect:
``--host`` (loopback by default, 0.0.0.0 for the network), fixed default ports (1883, 8470),
the URLs devices should use printed, and a taken port refused with exit 2.

Real processes, real sockets, a real paho client.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
import typer

from mqtt_helpers import free_port
from qiloop.broker.addresses import WILDCARDS, local_host, reachable_host
from qiloop.cli.broker import app as broker_app
from qiloop.cli.fleet.serve import serve as fleet_serve

pytest.importorskip("amqtt", reason="the embedded broker needs the broker extra")


def _defaults(command) -> dict[str, object]:
    return {p.name: p.default for p in command.params}


def test_default_bind_addresses_are_loopback_and_fixed_ports():
    run = typer.main.get_command(broker_app).commands["run"]  # the group also holds acl and certs
    assert {k: v for k, v in _defaults(run).items() if k in ("host", "port")} == {"host": "127.0.0.1", "port": 1883}
    app = typer.Typer()
    app.command()(fleet_serve)
    serve = _defaults(typer.main.get_command(app))
    assert (serve["host"], serve["port"], serve["mqtt_port"]) == ("127.0.0.1", 8470, 1883)


def test_a_wildcard_is_dialled_locally_on_loopback_and_remotely_on_a_real_address():
    assert local_host("0.0.0.0") == "127.0.0.1" and local_host("10.1.2.3") == "10.1.2.3"
    assert reachable_host("10.1.2.3") == "10.1.2.3"
    public = reachable_host("0.0.0.0")
    assert public and public not in WILDCARDS and not public.startswith("127.")


def _start(argv: list[str], home) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "QILOOP_MQTT_URL"}
    command = [sys.executable, "-m", "qiloop.cli.main", *argv]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=home)  # fmt: skip


def _read_until(proc: subprocess.Popen, needle: str, timeout: float = 60) -> str:
    seen, deadline = "", time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline and proc.poll() is None, seen + (proc.stdout.read() or "")
        seen += proc.stdout.readline()
    return seen


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out


def _connects(port: int) -> bool:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex[:12])
    try:
        return client.connect("127.0.0.1", port) == mqtt.MQTT_ERR_SUCCESS
    finally:
        client.disconnect()


def test_broker_run_on_every_interface_prints_the_url_devices_use(tmp_path):
    port = free_port()
    proc = _start(["broker", "run", "--host", "0.0.0.0", "--port", str(port)], tmp_path)
    try:
        out = _read_until(proc, "devices: --broker")
        assert f"QILOOP_MQTT_URL=mqtt://127.0.0.1:{port}" in out
        (device_url,) = re.findall(r"devices: --broker (\S+)", out)
        assert device_url.endswith(f":{port}") and "0.0.0.0" not in device_url
        assert _connects(port)
    finally:
        _stop(proc)


def test_broker_run_on_a_taken_port_exits_2_and_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "qiloop.cli.main", "broker", "run", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr and "--port" in done.stderr


def test_fleet_serve_on_every_interface_with_its_own_broker_prints_what_devices_use(tmp_path):
    import httpx

    files, mqtt_port = free_port(), free_port()
    home = tmp_path / "home"
    argv = ["fleet", "serve", "--host", "0.0.0.0", "--port", str(files), "--mqtt-port", str(mqtt_port),
            "--no-collect", "--home", str(home)]  # fmt: skip
    proc = _start(argv, tmp_path)
    try:
        out = _read_until(proc, "devices: qiloop agent run")
        (controller, broker) = re.findall(r"--controller (\S+) --broker (\S+)", out)[0]
        assert controller.endswith(f":{files}") and broker.endswith(f":{mqtt_port}")
        assert "0.0.0.0" not in controller + broker and "127.0.0.1" not in controller + broker
        assert httpx.get(f"http://127.0.0.1:{files}/v1/components/none/1").status_code == 404  # it answers
        assert _connects(mqtt_port)
    finally:
        out += _stop(proc)
    assert proc.returncode == 0, out


def test_fleet_serve_on_a_taken_file_server_port_exits_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["fleet", "serve", "--port", str(port), "--mqtt-port", str(free_port()), "--no-collect",
                "--home", str(tmp_path / "home")]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "QILOOP_MQTT_URL"}
        done = subprocess.run([sys.executable, "-m", "qiloop.cli.main", *argv], capture_output=True, text=True,
                              timeout=60, env=env)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
