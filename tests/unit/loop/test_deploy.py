"""Deploying an approved version: one function records the rollout (model and code), another waits for its end.

Real parts: a fleet database and component store in a temporary home, a real MLflow registry.
"""

from __future__ import annotations

import shutil
import time

import pytest

from qiloop.core.deployments import RolloutPolicy
from qiloop.core.errors import NotFoundError, QiloopError
from qiloop.fleet.controller import FleetController
from qiloop.loop.deploy import deploy_version, outcome_of, wait_for_rollout
from qiloop.registry.approvals import ApprovalError
from qiloop.settings import Settings

pytest.importorskip("mlflow", reason="needs qiloop[registry]")


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_package):
    from qiloop.registry import ModelRegistry

    settings = Settings(home=tmp_path_factory.mktemp("home"))
    registry = ModelRegistry.from_settings(settings)
    package = shutil.copytree(tiny_package, tmp_path_factory.mktemp("pkg") / "package")
    with registry.start_candidate_run("scratch-detector", {"epochs": 1}) as run:
        approved = registry.register(run, package, name="scratch-detector", approval="Approved")
    with registry.start_candidate_run("scratch-detector", {"epochs": 1}) as run:
        pending = registry.register(run, package, name="scratch-detector")
    return settings, registry, approved, pending


def test_the_production_version_and_the_inference_code_roll_out_together(world):
    settings, registry, approved, _ = world
    controller = FleetController.from_settings(settings)
    policy = RolloutPolicy(canary=1, soak_s=2)

    rollout = deploy_version(controller, registry, "line-1", policy=policy, allow_new_target=True)

    assert {c.name for c in rollout.components} == {"scratch-detector", "qiloop-inference"}
    model = next(c for c in rollout.components if c.name == "scratch-detector")
    assert model.version == str(approved.version)
    assert rollout.policy == policy and str(rollout.target) == "group:line-1"
    assert controller.db.rollout(rollout.id) is not None
    # The next model rollout keeps the code the fleet runs; fresh_code re-publishes the installed code
    # (the same bytes: the same version).
    again = deploy_version(controller, registry, "line-1", approved.ref, allow_new_target=True)
    fresh = deploy_version(controller, registry, "line-1", approved.ref, allow_new_target=True, fresh_code=True)
    code = {c.name: c.version for c in rollout.components}["qiloop-inference"]
    assert {c.name: c.version for c in again.components}["qiloop-inference"] == code
    assert {c.name: c.version for c in fresh.components}["qiloop-inference"] == code


def test_unknown_targets_and_unapproved_versions_are_refused_before_anything_is_recorded(world):
    settings, registry, _, pending = world
    controller = FleetController.from_settings(settings)
    before = len(controller.db.rollouts(limit=100))
    with pytest.raises(NotFoundError, match="no group 'nowhere'"):
        deploy_version(controller, registry, "nowhere")
    with pytest.raises(ApprovalError):
        deploy_version(controller, registry, "line-1", pending.ref, allow_new_target=True)
    assert len(controller.db.rollouts(limit=100)) == before


def test_waiting_needs_a_controller_and_returns_the_rollout_as_it_stands_when_time_runs_out(world):
    settings, registry, _, _ = world
    controller = FleetController.from_settings(settings)
    rollout = deploy_version(controller, registry, "line-9", allow_new_target=True)
    with pytest.raises(QiloopError, match="no fleet controller is running"):
        wait_for_rollout(controller.db, rollout.id, timeout=1)

    controller.db.heartbeat("test-controller", "mqtt://127.0.0.1:1", "http://127.0.0.1:1", 1)
    seen = []
    started = time.monotonic()
    outcome = wait_for_rollout(controller.db, rollout.id, timeout=0.5, poll=0.05, on_change=seen.append)

    assert 0.5 <= time.monotonic() - started < 5
    assert (outcome.phase, outcome.ended, outcome.succeeded) == ("PENDING", False, False)
    assert [r.id for r in seen] == [rollout.id]  # told once: nothing changed after
    assert outcome == outcome_of(controller.db.rollout(rollout.id), outcome.seconds)
    with pytest.raises(NotFoundError):
        wait_for_rollout(controller.db, "0" * 32, timeout=0.1)
