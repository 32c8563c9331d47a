"""The nucleus against a file server that requires device tokens: real Mosquitto, processes and signed deployments.

A device started with its own controller URL (``qiloop fleet download-url``) installs a
deployment; a device given the bare URL, or another device's, cannot download and rolls
back. Nothing on the device knows about tokens: the token is in its controller URL.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from mqtt_helpers import require_broker
from nucleus_helpers import Device, Fleet, model_packages
from qiloop.fleet.download_tokens import DownloadTokens
from qiloop.fleet.file_server import FileServer

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    pytest.importorskip("ultralytics", reason="building test models needs the train extra")
    return model_packages(tmp_path_factory.getbasetemp() / "nucleus-models")


@pytest.fixture
def fleet(tmp_path):
    require_broker()
    fleet = Fleet(tmp_path / "fleet", "mqtt://127.0.0.1:1883")
    fleet.server.stop()
    fleet.server = FileServer(fleet.store, tokens=DownloadTokens.from_home(tmp_path / "fleet")).start()
    yield fleet
    fleet.close()


def device(fleet: Fleet, home, device_id: str, controller_url: str) -> Device:
    """A nucleus whose --controller is ``controller_url`` (the rest as the fleet's devices)."""
    cloud = SimpleNamespace(broker_url=fleet.broker_url, root=fleet.root, server=SimpleNamespace(url=controller_url))
    return Device(cloud, home, device_id)  # type: ignore[arg-type]


def test_only_a_device_with_its_own_url_can_install(fleet, packages, tmp_path):
    tokens = fleet.server.tokens
    model, code = fleet.model(packages["1"]), fleet.code("1")
    own_id, bare_id, stolen_id = (f"dev-{uuid.uuid4().hex[:8]}" for _ in range(3))
    own = device(fleet, tmp_path / "own", own_id, fleet.server.device_url(own_id)).start()
    bare = device(fleet, tmp_path / "bare", bare_id, fleet.server.url).start()
    stolen = device(fleet, tmp_path / "stolen", stolen_id, f"{fleet.server.url}/d/{stolen_id}/{tokens.token(own_id)}")
    stolen.start()
    try:
        done = {d: fleet.publish(fleet.deployment(d.device_id, model, code)) for d in (own, bare, stolen)}
        assert own.wait_final(done[own].id).state.value == "SUCCEEDED", own.log_tail()
        for refused in (bare, stolen):
            row = refused.wait_final(done[refused].id, timeout=90)
            assert row.state.value != "SUCCEEDED" and refused.current() == {}, refused.log_tail()
        assert fleet.server.refused[401] >= 1 and fleet.server.refused[403] >= 1
        assert sum(n for p, n in fleet.server.served.items() if p.startswith("/v1/files/")) == sum(
            f.size for c in (model, code) for f in c.files
        )  # only the device with its own URL got the files
    finally:
        for d in (own, bare, stolen):
            d.stop()


def test_a_device_downloads_over_https_trusting_the_fleet_ca_from_ssl_cert_file(packages, tmp_path, monkeypatch):
    """As deploy/systemd/agent.env.example sets it up: SSL_CERT_FILE names the CA that signed the file server."""
    from qiloop.broker.certs import issue, new_ca
    from qiloop.fleet.file_server import server_context

    require_broker()
    ca = new_ca()
    cert, key = issue(ca, "127.0.0.1", hosts=["127.0.0.1"]).write(tmp_path / "tls", "fleet")
    (tmp_path / "tls" / "ca.pem").write_bytes(ca.cert_pem)
    fleet = Fleet(tmp_path / "fleet", "mqtt://127.0.0.1:1883")
    fleet.server.stop()
    tokens = DownloadTokens.from_home(tmp_path / "fleet")
    fleet.server = FileServer(fleet.store, tokens=tokens, tls=server_context(cert, key)).start()
    model, code = fleet.model(packages["1"]), fleet.code("1")
    trusting, untrusting = f"dev-{uuid.uuid4().hex[:8]}", f"dev-{uuid.uuid4().hex[:8]}"
    other = device(fleet, tmp_path / "untrusting", untrusting, fleet.server.device_url(untrusting)).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "tls" / "ca.pem"))
    one = device(fleet, tmp_path / "trusting", trusting, fleet.server.device_url(trusting)).start()
    try:
        assert fleet.server.url.startswith("https://")
        done = {d: fleet.publish(fleet.deployment(d.device_id, model, code)) for d in (one, other)}
        assert one.wait_final(done[one].id).state.value == "SUCCEEDED", one.log_tail()
        row = other.wait_final(done[other].id, timeout=90)  # the system's CAs do not know the fleet CA
        assert row.state.value != "SUCCEEDED" and other.current() == {}
        assert "CERTIFICATE_VERIFY_FAILED" in other.log_tail(200) + row.detail
    finally:
        one.stop()
        other.stop()
        fleet.close()
