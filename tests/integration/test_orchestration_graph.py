"""The asset graph in process on tiny synthetic data: one turn trains, gates, approves and rolls out.

Training is a 1-epoch fine-tune of the shipped checkpoint on 40 synthetic tags
(as in test_training_pipeline.py). Also: Dagster's automation approves a candidate
trained in another run only once its blocking gate passed, and a failed gate
skips the version and the rollout, registering nothing.
"""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")
pytest.importorskip("ultralytics", reason="needs qiloop[train]")
pytest.importorskip("mlflow", reason="needs qiloop[registry]")

import dagster as dg

from qiloop.fleet.registry_db import FleetDB
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.orchestration.definitions import build_definitions
from qiloop.orchestration.inprocess import run_turn
from qiloop.orchestration.resources import resources_for
from qiloop.registry import ModelRegistry
from qiloop.settings import load_settings
from qiloop.storage import ImageStore
from qiloop.synth import generate_dataset
from train_overrides import TINY

pytestmark = pytest.mark.slow

AUTO = [*TINY, "gate.approval=auto"]


def training(*overrides: str) -> dict:
    return {"ops": {"train": {"config": {"overrides": [*AUTO, *overrides]}}}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("orchestration")
    settings = load_settings(home=root / "home", training_profile="quick")
    report = generate_dataset(root / "synth", 40, seed=3)
    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    assert import_parsed(labels_csv.read(report.labels_csv), images, labels, images_root=root / "synth").errors == []
    with dg.instance_for_test() as instance:
        yield settings, instance


def test_a_candidate_from_another_run_is_approved_and_rolled_out_once_its_gate_passed(world):
    settings, instance = world
    defs = build_definitions(training_profile="quick", resources=resources_for(settings))
    version_key = dg.AssetKey("model_version")
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    trained = run_turn(
        settings, selection=["label_snapshot", "training_dataset", "trained_candidate"],
        run_config=training("gate.min_map50=0.0"), instance=instance,
    )  # fmt: skip
    assert trained.success, trained.failure
    assert trained.gate_passed is True, trained.gate
    candidate = trained.materialized["trained_candidate"]
    for figure in ("test/mAP50", "test/recall", "test/precision", "package_bytes", "seconds", "epochs"):
        assert isinstance(candidate[figure], int | float), figure
    assert candidate["test/recall"] > 0 and candidate["registered"] == "scratch-detector/1"
    assert trained.materialized["training_dataset"]["images"] == 40
    assert trained.materialized["label_snapshot"]["approved_images"] == 40
    assert trained.gate["check/min_recall"] == 1 and trained.gate["run_id"] == candidate["run_id"]

    # Across runs, Dagster's automation asks for the version step because the candidate's blocking check passed.
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    assert after.get_num_requested(version_key) == 1

    shipped = run_turn(
        settings, selection=["model_version", "rollout"], instance=instance,
        run_config={"ops": {"rollout": {"config": {"allow_new_target": True}}}},
    )  # fmt: skip
    assert shipped.success, shipped.failure
    assert shipped.materialized["model_version"]["approved"] == 1
    assert shipped.materialized["model_version"]["production_version"] == 1
    registry = ModelRegistry.from_settings(settings)
    assert registry.production("scratch-detector").version == 1
    rollout = shipped.materialized["rollout"]
    assert rollout["phase"] == "PENDING" and rollout["target"] == "group:line-1"
    fleet = FleetDB.from_settings(settings)
    try:
        recorded = fleet.rollout(rollout["rollout_id"])
        assert recorded is not None and recorded.components[0].name == "scratch-detector"
    finally:
        fleet.close()


def test_a_failed_gate_blocks_registration_and_rollout_and_says_why(world):
    settings, instance = world
    registry = ModelRegistry.from_settings(settings)
    versions = len(registry.versions("scratch-detector"))
    fleet = FleetDB.from_settings(settings)
    rollouts = len(fleet.rollouts(limit=100))
    defs = build_definitions(training_profile="quick", resources=resources_for(settings))
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    turn = run_turn(settings, run_config=training("gate.min_map50=0.99"), instance=instance)
    assert turn.gate_passed is False
    assert "0.99" in turn.gate["description"] and "refused" in turn.gate["description"]
    assert set(turn.skipped) == {"model_version", "rollout"}
    assert turn.materialized["trained_candidate"]["gate/passed"] == 0
    assert len(registry.versions("scratch-detector")) == versions  # not registered
    assert registry.production("scratch-detector").version == 1  # production unchanged
    assert len(fleet.rollouts(limit=100)) == rollouts  # nothing rolled out
    fleet.close()
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    assert after.get_num_requested(dg.AssetKey("model_version")) == 0  # nor in a later run
