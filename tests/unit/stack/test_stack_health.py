"""Probes against real servers, files and the fleet database: each answers, none raises."""

from __future__ import annotations

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qiloop.fleet.registry_db import FleetDB
from qiloop.stack.health import DagsterDaemonProbe, HeartbeatProbe, HttpProbe, LogProbe, TcpProbe
from qiloop.stack.ports import free_port

DAEMONS = {"healthy": True}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ok" else 404)
        self.end_headers()

    def do_POST(self):
        statuses = [
            {"daemonType": "SENSOR", "required": True, "healthy": DAEMONS["healthy"]},
            {"daemonType": "BACKFILL", "required": False, "healthy": False},
        ]
        body = json.dumps({"data": {"instance": {"daemonHealth": {"allDaemonStatuses": statuses}}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_probe(server):
    assert HttpProbe(url=f"{server}/ok").check().ok
    missing = HttpProbe(url=f"{server}/missing").check()
    assert not missing.ok and missing.detail == "HTTP 404"
    assert HttpProbe(url=f"{server}/missing", any_status=True).check().ok
    down = HttpProbe(url=f"http://127.0.0.1:{free_port()}/").check(timeout=1)
    assert not down.ok and "refused" in down.detail.lower()


def test_tcp_probe():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert TcpProbe(host="127.0.0.1", port=listener.getsockname()[1]).check().ok
    assert not TcpProbe(host="127.0.0.1", port=free_port()).check(timeout=1).ok


def test_log_probe(tmp_path):
    log = tmp_path / "collector.log"
    probe = LogProbe(path=str(log), text="collecting from")
    assert not probe.check().ok
    log.write_text("starting\n")
    assert "does not say" in probe.check().detail
    log.write_text("starting\ncollecting from mqtt://127.0.0.1:1883\n")
    assert probe.check().ok


def test_heartbeat_probe_reads_the_controller_beat_of_its_own_pid(tmp_path):
    path = tmp_path / "fleet.db"
    probe = HeartbeatProbe(db=str(path), pid=os.getpid())
    assert probe.check().detail == "no fleet.db yet"
    db = FleetDB(path)
    try:
        assert probe.check().detail == "no heartbeat yet"
        db.heartbeat("qiloop-fleet-controller", "mqtt://x", "http://y", os.getpid() + 1)
        assert not probe.check().ok  # another process's beat
        db.heartbeat("qiloop-fleet-controller", "mqtt://x", "http://y", os.getpid())
        assert probe.check().ok
    finally:
        db.close()


def test_dagster_daemon_probe_needs_every_required_daemon(server):
    probe = DagsterDaemonProbe(graphql_url=f"{server}/graphql")
    DAEMONS["healthy"] = True
    assert probe.check().ok
    DAEMONS["healthy"] = None  # no heartbeat yet
    answer = probe.check()
    assert not answer.ok and "SENSOR" in answer.detail
    assert not DagsterDaemonProbe(graphql_url=f"http://127.0.0.1:{free_port()}/graphql").check(timeout=1).ok
