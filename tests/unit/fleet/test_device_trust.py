"""The controller and the collector believe only what an enrolled device signed, on its own topic, once.

Real parts: the fleet database in a temporary home, the controller and the intake, real Ed25519 keys.
Over a real broker: tests/integration/test_fleet_trust.py.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

from qiloop.core.deployments import DeploymentState
from qiloop.fleet.controller import FleetController
from qiloop.fleet.device_trust import DeviceTrust
from qiloop.fleet.enrollment import create_token, register_key
from qiloop.fleet.intake import Intake
from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.enrollment import enrollment_proof
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.messages import DeviceStatus, InferenceResult
from qiloop.protocol.reports import DeploymentReport, DeviceHello
from qiloop.protocol.signed import MessageSigner
from qiloop.protocol.topics import RESULT_TOPIC, hello_topic, report_topic, status_topic
from qiloop.settings import Settings
from qiloop.storage.image_store import ImageStore


@pytest.fixture
def controller(tmp_path):
    controller = FleetController.from_settings(Settings(home=tmp_path / "home"))
    yield controller
    controller.db.close()


@pytest.fixture
def key(tmp_path):
    return MessageSigner.from_key_file(tmp_path / "cam-1.pem")


@pytest.fixture
def thief(tmp_path):
    return MessageSigner.from_key_file(tmp_path / "thief.pem")


HELLOS = itertools.count(1)  # a device numbers its hellos


def hello(signer: MessageSigner, device: str = "cam-1", *, token: str = "", sequence: int | None = None, **fields):
    public = encode_public_key(signer.public_key)
    proof = enrollment_proof(token, device, public) if token else ""
    message = DeviceHello(device_id=device, groups=["line-1"], public_key=public, enrollment=proof, **fields)
    return signer.sign({**message.body(), "sequence": next(HELLOS) if sequence is None else sequence})


def report(signer: MessageSigner, device: str = "cam-1", *, sequence: int = 1, state=DeploymentState.SUCCEEDED):
    body = DeploymentReport(device_id=device, deployment_id="dep-1", target="group:line-1", deployment_sequence=1,
                            state=state).body()  # fmt: skip
    return signer.sign({**body, "sequence": sequence})


def status(signer: MessageSigner, device: str = "cam-1", *, sequence: int):
    return signer.sign({**DeviceStatus(device_id=device).body(), "sequence": sequence})


def test_a_device_enrolls_once_with_its_token_and_the_token_is_spent(controller, key, thief):
    token = create_token(controller.db, "cam-1").token
    assert controller.receive(hello_topic("cam-1"), hello(key, token=token)) == "hello"
    registered = controller.db.device_key("cam-1")
    assert registered is not None and registered.key_id == key.key_id and registered.source == "token"
    assert [d.device_id for d in controller.db.devices("line-1")] == ["cam-1"]
    # the same token again, for another key (someone who saw the first hello): spent, and the device has its key
    assert controller.receive(hello_topic("cam-1"), hello(thief, token=token)) == "rejected"
    assert controller.db.device_key("cam-1").key_id == key.key_id


@pytest.mark.parametrize(
    "forged",
    [
        "unsigned",  # no signature at all
        "no token",  # signed by a key nobody enrolled
        "token of another device",
        "proof for another key",  # a proof seen on the wire, signed with the forger's key
        "expired token",
    ],
)
def test_a_forged_hello_registers_nothing(controller, key, thief, forged):
    token = create_token(controller.db, "cam-1", ttl_s=0.05 if forged == "expired token" else 3600).token
    other = create_token(controller.db, "cam-2").token
    if forged == "expired token":
        time.sleep(0.1)
    payload = {
        "unsigned": DeviceHello(device_id="cam-1", groups=["line-1"]).model_dump_json().encode(),
        "no token": hello(thief),
        "token of another device": hello(thief, token=other),
        "proof for another key": _swap_key(hello(key, token=token), thief),
        "expired token": hello(key, token=token),
    }[forged]
    assert controller.receive(hello_topic("cam-1"), payload) == "rejected"
    assert controller.db.devices() == [] and controller.db.device_key("cam-1") is None
    assert controller.outcomes[("hello", "rejected")] == 1
    # a hello signed by the key it presents waits for an admin (listed, never admitted on its own)
    waiting = [(p.device_id, p.key_id) for p in controller.db.pending_devices()]
    assert waiting == ([] if forged == "unsigned" else [("cam-1", json.loads(payload)["key_id"])])
    controller.step()
    assert controller.db.devices() == []


def _swap_key(payload: bytes, signer: MessageSigner) -> bytes:
    """The hello with the forger's key put in and signed by it, the victim's enrollment proof kept."""
    data = json.loads(payload)
    data["public_key"] = encode_public_key(signer.public_key)
    return signer.sign(data)


def test_forged_succeeded_reports_record_nothing(controller, key, thief):
    register_key(controller.db, "cam-1", encode_public_key(key.public_key))
    register_key(controller.db, "cam-2", encode_public_key(thief.public_key))
    forged = {
        "signed by another key": (report_topic("cam-1"), report(thief)),
        "unsigned": (report_topic("cam-1"), json.dumps({**json.loads(report(key)), "signature": ""}).encode()),
        "on another device's topic": (report_topic("cam-1"), report(thief, "cam-2")),
        "altered after signing": (report_topic("cam-1"), _altered(report(key, state=DeploymentState.DOWNLOADING))),
    }
    for what, (topic, payload) in forged.items():
        assert controller.receive(topic, payload) == "rejected", what
    assert controller.db.finals(["dep-1"]) == {}
    assert controller.receive(report_topic("cam-1"), report(key)) == "deployment"
    assert controller.db.finals(["dep-1"]) == {("cam-1", "dep-1"): (DeploymentState.SUCCEEDED, "")}


def _altered(payload: bytes) -> bytes:
    data = json.loads(payload)
    data["state"] = "SUCCEEDED"
    return json.dumps(data).encode()


def test_replays_are_dropped(controller, key):
    register_key(controller.db, "cam-1", encode_public_key(key.public_key))
    old_hello, new_hello = hello(key, sequence=41), hello(key, sequence=42, running={"model": "2"})
    assert controller.receive(hello_topic("cam-1"), new_hello) == "hello"
    assert controller.receive(hello_topic("cam-1"), new_hello) == "duplicate"  # the retained hello on a reconnect
    assert controller.receive(hello_topic("cam-1"), old_hello) == "rejected"  # an older hello played back
    assert controller.db.devices()[0].running == {"model": "2"}

    assert controller.receive(report_topic("cam-1"), report(key, sequence=5)) == "deployment"
    assert controller.receive(report_topic("cam-1"), report(key, sequence=5)) == "duplicate"

    assert controller.receive(status_topic("cam-1"), status(key, sequence=10)) == "status"
    before = controller.db.devices()[0].status_at
    assert controller.receive(status_topic("cam-1"), status(key, sequence=9)) == "rejected"  # keeps a dead device alive
    assert controller.db.devices()[0].status_at == before


def test_reports_statuses_and_hellos_must_carry_their_sequence(controller, key):
    register_key(controller.db, "cam-1", encode_public_key(key.public_key))
    body = DeploymentReport(device_id="cam-1", deployment_id="d", target="group:x", deployment_sequence=1,
                            state=DeploymentState.SUCCEEDED).body()  # fmt: skip
    assert controller.receive(report_topic("cam-1"), key.sign(body)) == "rejected"
    assert controller.receive(status_topic("cam-1"), key.sign(DeviceStatus(device_id="cam-1").body())) == "rejected"
    assert controller.receive(hello_topic("cam-1"), key.sign(DeviceHello(device_id="cam-1").body())) == "rejected"


def test_a_hello_that_presents_another_key_than_the_registered_one_is_rejected(controller, key, thief):
    register_key(controller.db, "cam-1", encode_public_key(key.public_key))
    data = json.loads(hello(key))
    data["public_key"] = encode_public_key(thief.public_key)
    assert controller.receive(hello_topic("cam-1"), key.sign(data)) == "rejected"


@pytest.fixture
def intake(tmp_path, controller):
    db = ResultsDB.from_settings(Settings(home=tmp_path / "home"))
    yield Intake(db, ImageStore.from_url(str(tmp_path / "images")), trust=DeviceTrust(controller.db))
    db.close()


def result(signer: MessageSigner, device: str = "cam-1", *, sequence: int = 1) -> bytes:
    body = InferenceResult(device_id=device, image_name="a.png", model_name="m", verdict="fail", latency_ms=3).body()
    return signer.sign({**body, "sequence": sequence})


def test_the_collector_stores_only_what_an_enrolled_device_signed(intake, controller, key, thief):
    register_key(controller.db, "cam-1", encode_public_key(key.public_key))
    unsigned = json.dumps({**json.loads(result(key)), "signature": None}).encode()
    outcomes = {
        "good": intake.handle(RESULT_TOPIC, result(key, sequence=1)),
        "replayed": intake.handle(RESULT_TOPIC, result(key, sequence=1)),
        "forged": intake.handle(RESULT_TOPIC, result(thief, sequence=2)),
        "unsigned": intake.handle(RESULT_TOPIC, unsigned),
        "not enrolled": intake.handle(RESULT_TOPIC, result(thief, "cam-9", sequence=3)),
        "wrong topic": intake.handle(status_topic("cam-2"), status(key, sequence=4)),
        "not json": intake.handle(RESULT_TOPIC, b"{oops"),
    }
    assert {k: o.status for k, o in outcomes.items()} == {
        "good": "stored", "replayed": "duplicate", "forged": "rejected", "unsigned": "rejected",
        "not enrolled": "rejected", "wrong topic": "rejected", "not json": "invalid",
    }  # fmt: skip
    assert "not by the key registered" in outcomes["forged"].reason
    assert "unsigned" in outcomes["unsigned"].reason and outcomes["unsigned"].kind == "result"
    assert "not enrolled" in outcomes["not enrolled"].reason
    assert "on the topic of device 'cam-2'" in outcomes["wrong topic"].reason
    assert [r.message.sequence for r in intake.db.results(limit=0)] == [1]


def test_a_fleet_database_from_before_numbered_hellos_gains_the_column(tmp_path, key):
    import sqlite3

    from qiloop.fleet.registry_db import FleetDB

    path = tmp_path / "fleet.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE device_keys (device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, key_id TEXT NOT NULL,"
            " source TEXT NOT NULL, added_at REAL NOT NULL, hello_time REAL, status_sequence INTEGER)"
        )
    db = FleetDB(path)
    try:
        register_key(db, "cam-1", encode_public_key(key.public_key))
        assert [db.accept_hello("cam-1", n) for n in (5, 5, 4, 6)] == ["new", "same", "old", "new"]
    finally:
        db.close()
