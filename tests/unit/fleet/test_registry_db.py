"""The fleet database and the controller's bookkeeping: devices, reports once, sequences only up, signing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from qiloop.core.deployments import DeploymentState, RolloutPolicy, Target
from qiloop.core.errors import ConfigurationError
from qiloop.edge.agent.trust import TrustStore
from qiloop.fleet.component_store import ComponentStore
from qiloop.fleet.controller import FleetController, parse_target
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.rollout import Phase
from qiloop.fleet.signing import FileSigner
from qiloop.protocol.reports import DeploymentReport, DeviceHello


def _report(device="d1", sequence=1, state=DeploymentState.SUCCEEDED, deployment="x" * 32, **fields):
    return DeploymentReport(device_id=device, deployment_id=deployment, target="group:line", deployment_sequence=3,
                            state=state, sequence=sequence, running={"model": "2"}, **fields)  # fmt: skip


def test_hello_registers_a_device_and_reports_update_it(tmp_path):
    db = FleetDB(tmp_path / "fleet.db")
    db.add_hello(DeviceHello(device_id="d1", groups=["line", "a"], running={"model": "1"}), at=10.0)
    db.add_hello(DeviceHello(device_id="d2", groups=["other"]), at=11.0)
    assert [d.device_id for d in db.devices("line")] == ["d1"]
    assert db.add_report(_report(), at=12.0)
    (d1,) = db.devices("line")
    assert d1.groups == ["a", "line"] and d1.running == {"model": "2"} and d1.report_state == "SUCCEEDED"
    db.note_status("d1", "running", at=13.0)
    assert db.devices("line")[0].status_state == "running" and db.devices("line")[0].status_at == 13.0
    assert [d.device_id for d in db.devices()] == ["d1", "d2"]


def test_reports_are_logged_once_per_device_and_sequence(tmp_path):
    db = FleetDB(tmp_path / "fleet.db")
    assert db.add_report(_report(sequence=7))
    assert not db.add_report(_report(sequence=7))  # a re-delivery
    assert db.add_report(_report(device="d2", sequence=7))
    assert db.add_report(_report(sequence=8, state=DeploymentState.HEALTH_CHECK))
    assert len(db.reports("x" * 32)) == 3
    finals = db.finals(["x" * 32])
    done = (DeploymentState.SUCCEEDED, "")
    assert finals == {("d1", "x" * 32): done, ("d2", "x" * 32): done}
    assert db.finals([]) == {} and db.finals(["y" * 32]) == {}


def test_sequences_only_go_up_across_connections(tmp_path):
    path = tmp_path / "fleet.db"
    dbs = [FleetDB(path) for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: dbs[i % 4].next_sequence("group:line"), range(200)))
    assert sorted(got) == list(range(1, 201))  # no number handed out twice, none skipped
    assert dbs[0].next_sequence("group:other") == 1
    assert FleetDB(path).next_sequence("group:line") == 201  # survives a restart


def test_sequences_start_above_what_devices_reported(tmp_path):
    db = FleetDB(tmp_path / "fleet.db")  # e.g. a controller whose database was lost
    db.add_report(_report())  # the device accepted sequence 3 of group:line
    assert db.next_sequence("group:line") == 4


@pytest.fixture
def controller(tmp_path):
    published: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def publish(topic, payload):
        with lock:
            published.append((topic, payload))

    ctl = FleetController(FleetDB(tmp_path / "fleet.db"), FileSigner.load_or_create(tmp_path / "keys"),
                          ComponentStore.from_url(tmp_path / "store"), publish)  # fmt: skip
    ctl.published = published
    return ctl


def _component(controller, version, data):
    return controller.store.publish("model", version, "model", {"model.onnx": data})


def test_deployments_are_signed_recorded_and_verifiable(controller, tmp_path):
    model = _component(controller, "1", b"weights-1")
    first = controller.create_deployment([model], "line", {"model": {"a": 1}}, RolloutPolicy(canary=2))
    second = controller.create_deployment([model], "line")
    trust = TrustStore({controller.signer.key_id: controller.signer.public_key})
    deployment = trust.verify(first.model_dump_json().encode())
    assert deployment.target == Target(kind="group", name="line") and deployment.sequence == 1
    assert deployment.components[0].digest == model.digest and deployment.rollout.canary == 2
    assert second.deployment().sequence == 2
    assert controller.db.deployment(deployment.id) == first


def test_parse_target():
    assert parse_target("line-1") == Target(kind="group", name="line-1")
    assert parse_target("group:a") == Target(kind="group", name="a")
    assert parse_target("device:cam-7") == Target(kind="device", name="cam-7")
    with pytest.raises(ConfigurationError):
        parse_target("Bad Name")


def test_a_rollout_runs_through_the_controller_on_recorded_reports(controller):
    old, new = _component(controller, "1", b"weights-1"), _component(controller, "2", b"weights-2")
    for i in range(3):
        hello = DeviceHello(device_id=f"d{i}", groups=["line"], running={"model": "1"})
        controller.receive(f"qiloop/devices/d{i}/hello", hello.model_dump_json().encode())
    rollout = controller.deploy([new], "line", policy=RolloutPolicy(canary=1, soak_s=0, health_timeout_s=30))
    assert [r.previous[0].version for r in controller.db.rollouts(active=True)] == ["1"]  # from the devices' hellos
    (started,) = controller.step()
    assert started.phase == Phase.CANARY and len(controller.published) == 1
    canary = started.canaries[0]
    deployment_id = started.deployments[f"device:{canary}"]
    report = _report(device=canary, deployment=deployment_id, sequence=1)
    assert controller.receive(f"qiloop/devices/{canary}/deployments", report.model_dump_json().encode()) == "deployment"
    (grouped,) = controller.step()
    assert grouped.phase == Phase.GROUP and controller.published[-1][0] == "qiloop/deployments/group/line"
    group_id = grouped.deployments["group:line"]
    for i in range(3):
        report = _report(device=f"d{i}", deployment=group_id, sequence=2)
        controller.receive(f"qiloop/devices/d{i}/deployments", report.model_dump_json().encode())
    (done,) = controller.step()
    assert done.phase == Phase.SUCCEEDED and controller.db.rollout(rollout.id).phase == Phase.SUCCEEDED
    assert controller.published[-1] == (f"qiloop/deployments/device/{canary}", b"")
    assert controller.step() == []
    assert controller.receive("qiloop/devices/d0/deployments", b"{not json") == "ignored"
    # the next rollout of the target returns to what this one installed
    later = controller.deploy([old], "line")
    assert [c.version for c in later.previous] == ["2"]


def test_a_new_rollout_supersedes_the_running_one(controller):
    model = _component(controller, "1", b"w")
    first = controller.deploy([model], "line", allow_new_target=True)  # no device has joined "line" yet
    second = controller.deploy([model], "line", allow_new_target=True)
    assert controller.db.rollout(first.id).phase == Phase.SUPERSEDED
    assert [r.id for r in controller.db.rollouts(active=True)] == [second.id]
