"""After the gate: the version step approves a candidate only when it beats production on the same images,
and the rollout step ships only what was approved now (nothing when the candidate did not beat production)."""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")
pytest.importorskip("mlflow", reason="needs qiloop[registry]")

import dagster as dg

from qiloop.orchestration.assets_model import CANDIDATE
from qiloop.orchestration.inprocess import run_turn

SHIP = {"ops": {"rollout": {"config": {"allow_new_target": True}}}}


def register(registry, package, approval):
    with registry.start_candidate_run("scratch-detector", {"epochs": 1}) as run:
        run.set_tags({"gate_passed": "true", "gate_reasons": "passed: mAP50 reaches the minimum 0.5"})
        return registry.register(run, package, name="scratch-detector", approval=approval)


def trained(instance, version, map50: float, champion_map50: float) -> None:
    """What the training step records about a registered candidate (its run, figures and the champion's)."""
    metadata = {"run_id": version.run_id, "registered": version.ref, "gate/passed": 1.0, "gate_metric": "mAP50",
                "gate_approval": "auto", "champion": "scratch-detector/1", "test/mAP50": map50,
                "champion/mAP50": champion_map50, "test/recall": 0.8}  # fmt: skip
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=CANDIDATE, metadata=metadata))


def test_a_candidate_that_does_not_beat_production_is_left_pending_and_nothing_ships(
    settings, instance, tiny_package, tiny_package_v2
):
    from qiloop.fleet.registry_db import FleetDB
    from qiloop.registry import ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    register(registry, tiny_package, "Approved")
    candidate = register(registry, tiny_package_v2, "PendingManualApproval")

    trained(instance, candidate, map50=0.70, champion_map50=0.80)
    turn = run_turn(settings, selection=["model_version", "rollout"], run_config=SHIP, instance=instance)
    assert turn.success, turn.failure
    version = turn.materialized["model_version"]
    assert version["approved"] == 0 and version["production_version"] == 1
    assert "does not beat production" in version["reason"]
    assert turn.skipped == ("rollout",)  # nothing new to roll out
    assert registry.production("scratch-detector").version == 1
    fleet = FleetDB.from_settings(settings)
    try:
        assert fleet.rollouts(limit=10) == []

        trained(instance, candidate, map50=0.85, champion_map50=0.80)
        turn = run_turn(settings, selection=["model_version", "rollout"], run_config=SHIP, instance=instance)
        assert turn.success, turn.failure
        assert turn.materialized["model_version"]["approved"] == 1
        assert registry.production("scratch-detector").version == 2
        shipped = turn.materialized["rollout"]
        assert shipped["version"] == 2 and shipped["phase"] == "PENDING"
        [recorded] = fleet.rollouts(limit=10)
        assert recorded.id == shipped["rollout_id"]
    finally:
        fleet.close()
