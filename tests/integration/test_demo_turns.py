"""Two turns of the loop, as the demo runs them, on tiny synthetic data.

Real parts throughout: the image and label stores, the labelling service over
HTTP with bots, ultralytics training (one epoch fine-tuning the shipped
checkpoint), MLflow, an embedded MQTT broker, the fleet controller, and two
device agents (real processes) that inspect camera images and send uncertain
ones back. Turn 2 labels that feedback and trains from the new label-store version.
"""

from __future__ import annotations

import pytest

pytest.importorskip("ultralytics", reason="needs qiloop[train]")
pytest.importorskip("mlflow", reason="needs qiloop[registry]")
pytest.importorskip("fastapi", reason="needs qiloop[label]")

from demo_helpers import ANY_MODEL, QUICK_ROLLOUT, demo_home
from qiloop.sim.devices import SimulatedLine
from qiloop.sim.turn import TurnPlan, run_turn
from qiloop.training.config import TrainConfig
from train_overrides import TINY

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # two trainings and a rollout: minutes under load


def test_two_turns_label_train_gate_deploy_and_retrain_from_the_feedback(tmp_path):
    home = demo_home(tmp_path)
    images, db, shots = home.images, home.db, home.shots
    config = TrainConfig.resolve(profile="quick", overrides=TINY)
    said: list[str] = []

    with SimulatedLine.start(home.settings, root=tmp_path / "line") as line:
        world = home.world(line, say=said.append)
        one = run_turn(world, TurnPlan(1, "unlabeled", config, ANY_MODEL, shots[:24], policy=QUICK_ROLLOUT))

        assert one.opened.images == 8 and one.opened.prelabel_source is None  # nothing in production yet
        assert one.labelled.approved == 8 and len(one.labelled.records) == 8
        assert one.candidate.version == "scratch-detector/1" and one.candidate.approval == "PendingManualApproval"
        assert one.promotion.promote and one.approved.production == "scratch-detector/1"
        assert one.rollout.succeeded and one.rollout.devices_succeeded == 2 and one.rollout.canaries
        assert one.deployed == one.production == "scratch-detector/1"
        assert one.collected.results == 24 and one.collected.by_model == {"scratch-detector/1": 24}
        assert one.collected.feedback > 0, "a one-epoch model is unsure of some camera images"
        assert one.collected.feedback_waiting == one.collected.feedback
        feedback = {e.image_sha256 for e in images.feedback.list()}

        plan = TurnPlan(2, "feedback", config, ANY_MODEL, shots[24:], start_from=one.candidate.weights, seed=1,
                        policy=QUICK_ROLLOUT)  # fmt: skip
        two = run_turn(world, plan)

    db.dispose()
    assert two.opened.source == "feedback" and two.opened.images == one.collected.feedback
    assert two.opened.prelabel_source.startswith("feedback,model:scratch-detector/1")  # gold: production's boxes
    assert two.opened.prelabelled == two.opened.images  # the devices' boxes
    assert two.labelled.approved == two.opened.images
    assert {r.image_sha256 for r in two.labelled.records} == feedback
    # A new model from the new labels: a later label-store version, fine-tuned from turn 1's weights,
    # measured against production on the same test images.
    assert two.candidate.label_store_version > one.candidate.label_store_version
    assert two.candidate.images == one.candidate.images + len(feedback)
    assert two.candidate.started_from == str(one.candidate.weights)
    assert two.candidate.champion == "scratch-detector/1" and "mAP50" in two.candidate.champion_metrics
    # Registered when it passed the gate (which includes no regression against production), approved and
    # rolled out only when it also beats production; otherwise the line keeps turn 1's model.
    assert (two.candidate.version == "scratch-detector/2") is two.candidate.passed
    assert two.candidate.passed or (two.candidate.reasons and not two.promotion.promote)
    if two.promotion.promote:
        assert two.rollout.succeeded and two.production == "scratch-detector/2"
        assert two.collected.by_model == {"scratch-detector/2": 24}
    else:
        assert two.rollout is None and two.production == "scratch-detector/1"
        assert two.collected.by_model == {"scratch-detector/1": 24}
    assert any("canary rollout" in line for line in said)
