"""Mutual TLS against a real Mosquitto: the broker configuration qiloop ships, certificates made by the test.

The broker runs deploy/compose/mosquitto/mosquitto.conf (paths moved into the test's folder,
a free loopback port): TLS only, a client certificate required, its common name the account,
and the generated ACL. Clients are made by the one MQTT client factory
(:func:`qiloop.protocol.mqtt.mqtt_client`) from broker URLs that carry the CA, certificate and
key, as devices, the collector, the controller and the inference app are configured.
"""

from __future__ import annotations

import getpass
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from mqtt_helpers import MOSQUITTO, free_port, reachable, require_mosquitto
from qiloop.broker.acl import DeviceAccess, acl_text, write_acl
from qiloop.broker.certs import issue, new_ca
from qiloop.core.deployments import Target
from qiloop.core.errors import ConfigurationError
from qiloop.fleet.publish import publish_retained
from qiloop.protocol.mqtt import mqtt_client, parse_broker_url
from qiloop.protocol.topics import deployment_topic

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "mosquitto" / "mosquitto.conf"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca, rogue = new_ca("qiloop test CA"), new_ca("another CA")
    ca.write(folder, "ca")
    rogue.write(folder, "rogue-ca")
    issue(ca, "127.0.0.1", hosts=["127.0.0.1", "localhost"]).write(folder, "broker")
    for name in ("cam-1", "qiloop-cloud"):
        issue(ca, name).write(folder, name)
    issue(rogue, "cam-1").write(folder, "rogue-cam-1")
    return folder


@pytest.fixture(scope="module")
def broker(pki, tmp_path_factory):
    require_mosquitto()
    folder = tmp_path_factory.mktemp("tls-broker")
    write_acl(folder / "acl", acl_text([DeviceAccess("cam-1", ("line-1",))], services=["qiloop-cloud"]))
    port = free_port()
    text = SHIPPED.read_text()
    assert "listener 8883\n" in text and "require_certificate true" in text
    text = (text.replace("listener 8883\n", f"listener {port} 127.0.0.1\n")
            .replace("/mosquitto/config/tls/", f"{pki}/").replace("/mosquitto/config/acl", str(folder / "acl"))
            .replace("/mosquitto/data/", f"{folder}/"))  # fmt: skip
    config = folder / "mosquitto.conf"
    config.write_text(text + f"user {getpass.getuser()}\n")
    log = folder / "mosquitto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not reachable(port):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "mosquitto never listened"
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


def url(port: int, pki: Path, ca: str = "ca", cert: str | None = None) -> str:
    query = f"ca={quote(str(pki / f'{ca}.pem'))}"
    if cert is not None:
        query += f"&cert={quote(str(pki / f'{cert}.pem'))}&key={quote(str(pki / f'{cert}.key'))}"
    return f"mqtts://127.0.0.1:{port}?{query}"


class Session:
    """A client from the factory, started; records whether the broker accepted it and what it received."""

    def __init__(self, broker_url: str) -> None:
        self.accepted, self.refused = threading.Event(), threading.Event()
        self.received: list[tuple[str, bytes]] = []
        self.client = mqtt_client(broker_url, f"test-{uuid.uuid4().hex[:8]}", reconnect_s=(0.2, 0.5))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.refused.set()
        self.client.on_message = lambda c, u, msg: self.received.append((msg.topic, msg.payload))
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        (self.refused if reason_code.is_failure else self.accepted).set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_device_with_a_certificate_from_the_fleet_ca_connects_and_its_messages_arrive(broker, pki):
    cloud = Session(url(broker, pki, cert="qiloop-cloud"))
    device = Session(url(broker, pki, cert="cam-1"))
    try:
        assert cloud.accepted.wait(10) and device.accepted.wait(10)
        done = threading.Event()
        cloud.client.on_subscribe = lambda *_: done.set()
        cloud.client.subscribe("qiloop/devices/#", qos=1)
        assert done.wait(10)
        device.client.publish("qiloop/devices/cam-2/status", b"not mine", qos=1).wait_for_publish(10)
        device.client.publish("qiloop/devices/cam-1/status", b"hello over mutual TLS", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 10
        while not cloud.received and time.monotonic() < deadline:
            time.sleep(0.05)
        # The certificate's common name is the account: cam-1 may publish as cam-1 only.
        assert cloud.received == [("qiloop/devices/cam-1/status", b"hello over mutual TLS")]
    finally:
        device.close()
        cloud.close()


def test_the_controller_publishes_a_deployment_the_device_reads_over_mutual_tls(broker, pki):
    topic = deployment_topic(Target(kind="device", name="cam-1"))
    publish_retained(url(broker, pki, cert="qiloop-cloud"), topic, b"signed deployment")  # the controller's path
    device = Session(url(broker, pki, cert="cam-1"))
    try:
        assert device.accepted.wait(10)
        device.client.subscribe(topic, qos=1)
        deadline = time.monotonic() + 10
        while not device.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert device.received == [(topic, b"signed deployment")]
    finally:
        device.close()


@pytest.mark.parametrize(
    ("ca", "cert"),
    [("ca", None), ("ca", "rogue-cam-1"), ("rogue-ca", "cam-1")],
    ids=["no-client-certificate", "certificate-from-another-ca", "broker-not-trusted"],
)
def test_without_a_certificate_of_the_fleet_ca_no_session_is_made(broker, pki, ca, cert):
    session = Session(url(broker, pki, ca=ca, cert=cert))
    try:
        assert not session.accepted.wait(3), f"the broker accepted {cert or 'no certificate'} (trusting {ca})"
    finally:
        session.close()


@pytest.mark.parametrize(
    ("broker_url", "problem"),
    [
        ("mqtt://127.0.0.1:1883?ca=/x.pem", "plain"),
        ("mqtts://127.0.0.1:8883?cafile=/x.pem", "cafile"),
        ("mqtts://127.0.0.1:8883?key=/x.key", "certificate"),
        ("mqtts://127.0.0.1:8883?ca=/nonexistent/ca.pem", "TLS files"),
    ],
)
def test_bad_tls_settings_in_a_broker_url_are_refused_before_connecting(broker_url, problem):
    with pytest.raises(ConfigurationError, match=problem):
        mqtt_client(broker_url, "x")


def test_the_url_keeps_the_tls_files_and_hides_nothing_else():
    address = parse_broker_url("mqtts://dev:pw@broker:8883?ca=/etc/q/ca.pem&cert=/etc/q/d.pem&key=/etc/q/d%20k.key")
    assert (address.host, address.port, address.tls, address.username) == ("broker", 8883, True, "dev")
    files = address.tls_files
    assert (str(files.ca_file), str(files.cert_file), str(files.key_file)) == ("/etc/q/ca.pem", "/etc/q/d.pem",
                                                                               "/etc/q/d k.key")  # fmt: skip


def test_a_real_nucleus_takes_a_deployment_and_reports_over_mutual_tls_under_the_acl(broker, pki, tmp_path):
    """The agent (qiloop agent run) with its certificate in its broker URL, the controller with the cloud's."""
    import json
    from types import SimpleNamespace

    from nucleus_helpers import Device, Fleet, model_packages

    pytest.importorskip("ultralytics", reason="building test models needs the train extra")
    packages = model_packages(tmp_path / "models")
    fleet = Fleet(tmp_path / "fleet", url(broker, pki, cert="qiloop-cloud"))
    cloud = Session(url(broker, pki, cert="qiloop-cloud"))
    cam = Device(SimpleNamespace(broker_url=url(broker, pki, cert="cam-1"), root=fleet.root, server=fleet.server),
                 tmp_path / "cam-1", "cam-1")  # fmt: skip
    try:
        assert cloud.accepted.wait(10)
        cloud.client.subscribe("qiloop/devices/cam-1/#", qos=1)
        cam.start()
        done = fleet.publish(fleet.deployment("cam-1", fleet.model(packages["1"]), fleet.code("1")))
        assert cam.wait_final(done.id).state.value == "SUCCEEDED", cam.log_tail()
        deadline = time.monotonic() + 20
        states: list[str] = []
        while "SUCCEEDED" not in states and time.monotonic() < deadline:
            states = [json.loads(p).get("state") for t, p in list(cloud.received) if t.endswith("/deployments")]
            time.sleep(0.1)
        assert "SUCCEEDED" in states, states
        assert {t for t, _ in cloud.received} <= {f"qiloop/devices/cam-1/{k}" for k in ("hello", "deployments")}
    finally:
        cam.stop()
        cloud.close()
        fleet.close()
