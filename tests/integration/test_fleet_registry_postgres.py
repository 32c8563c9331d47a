"""The fleet registry on PostgreSQL: enrollment, hellos, reports, rollouts and sequences, and concurrent callers.

A throwaway database (``postgres_url`` in conftest) is created and dropped; the tests skip
(fail under CI) when the server on 127.0.0.1:5432 is not reachable.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from qiloop.core.deployments import ComponentRef, DeploymentState, Target
from qiloop.fleet.controller import FleetController
from qiloop.fleet.enrollment import create_token
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.rollout import Phase, Rollout
from qiloop.protocol.enrollment import enrollment_proof
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.reports import DeploymentReport, DeviceHello
from qiloop.protocol.signed import MessageSigner
from qiloop.protocol.topics import hello_topic, report_topic
from qiloop.settings import Settings

pytestmark = [pytest.mark.postgres]


def _hello(signer: MessageSigner, token: str, sequence: int) -> bytes:
    public = encode_public_key(signer.public_key)
    body = DeviceHello(device_id="cam-1", groups=["line-1"], public_key=public,
                       enrollment=enrollment_proof(token, "cam-1", public)).body()  # fmt: skip
    return signer.sign({**body, "sequence": sequence})


def _report(signer: MessageSigner, sequence: int) -> bytes:
    body = DeploymentReport(device_id="cam-1", deployment_id="dep-1", target="group:line-1", deployment_sequence=7,
                            state=DeploymentState.SUCCEEDED).body()  # fmt: skip
    return signer.sign({**body, "sequence": sequence})


def test_enrollment_hello_report_rollout_and_sequences_round_trip(postgres_url, tmp_path):
    settings = Settings(home=tmp_path / "home", fleet_db_url=postgres_url)
    controller = FleetController.from_settings(settings)
    key, thief = MessageSigner.from_key_file(tmp_path / "cam-1.pem"), MessageSigner.from_key_file(tmp_path / "x.pem")
    try:
        assert controller.db.url == postgres_url and not (tmp_path / "home" / "fleet.db").exists()
        token = create_token(controller.db, "cam-1").token
        assert controller.receive(hello_topic("cam-1"), _hello(thief, "wrong token", 1)) == "rejected"
        assert [p.device_id for p in controller.db.pending_devices()] == ["cam-1"]  # waits for an admin
        assert controller.receive(hello_topic("cam-1"), _hello(key, token, 2)) == "hello"
        assert controller.db.device_key("cam-1").key_id == key.key_id
        assert controller.receive(hello_topic("cam-1"), _hello(key, token, 2)) == "duplicate"
        assert controller.receive(hello_topic("cam-1"), _hello(key, token, 1)) == "rejected"  # replayed
        assert {topic for topic, _ in controller.db.take_admitted()} <= {hello_topic("cam-1")}  # it has a key now
        assert controller.db.pending_devices() == []

        assert controller.receive(report_topic("cam-1"), _report(key, 3_000_000_000_000_000)) == "deployment"
        assert controller.receive(report_topic("cam-1"), _report(key, 3_000_000_000_000_000)) == "duplicate"
        assert controller.db.finals(["dep-1"]) == {("cam-1", "dep-1"): (DeploymentState.SUCCEEDED, "")}
        (device,) = controller.db.devices("line-1")
        assert device.report_state == "SUCCEEDED" and device.public_key == encode_public_key(key.public_key)
        assert controller.db.next_sequence("group:line-1") == 8  # above what the device reported

        ref = ComponentRef(name="qiloop-model", version="1.0.0", digest="a" * 64)
        rollout = Rollout(target=Target(kind="group", name="line-1"), components=[ref], created_at=1.0,
                          phase_since=1.0)  # fmt: skip
        controller.db.save_rollout(rollout)
        assert [r.id for r in controller.db.rollouts(active=True)] == [rollout.id]
        controller.db.save_rollout(rollout.model_copy(update={"phase": Phase.SUCCEEDED}))
        assert controller.db.rollouts(active=True) == [] and controller.db.rollout(rollout.id).phase == Phase.SUCCEEDED
        controller.db.heartbeat("ctl", "mqtt://b", "http://f", 1)
        assert [c["name"] for c in controller.db.controllers()] == ["ctl"]
    finally:
        controller.db.close()
    again = FleetDB.from_settings(settings)  # a second process: migrated already, same rows
    try:
        assert again.device_key("cam-1").key_id == key.key_id and again.next_sequence("group:line-1") == 9
    finally:
        again.close()


def test_concurrent_callers_never_get_the_same_sequence(postgres_url):
    dbs = [FleetDB(postgres_url) for _ in range(4)]  # four engines: separate connections, as four processes
    start = threading.Barrier(8)

    def allocate(i: int) -> list[tuple[str, int]]:
        start.wait()
        targets = [f"group:{'ab'[j % 2]}" for j in range(i, i + 24)]  # 12 of each, interleaved
        return [(target, dbs[i % 4].next_sequence(target)) for target in targets]

    try:
        with ThreadPoolExecutor(8) as pool:
            got = [pair for chunk in pool.map(allocate, range(8)) for pair in chunk]
        for target in ("group:a", "group:b"):  # each number once per target, none skipped
            assert sorted(n for t, n in got if t == target) == list(range(1, 97))
        assert dbs[0].next_sequence("group:a") == 97
    finally:
        for db in dbs:
            db.close()
