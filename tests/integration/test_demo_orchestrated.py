"""Two turns of the loop as ``qiloop demo`` runs them: through the orchestration's triggers, in this process.

Real parts throughout (as in test_demo_turns.py): the stores, the labelling service
with bots, ultralytics (one epoch fine-tuning the shipped checkpoint), MLflow, an
embedded broker, the fleet controller and two device agents. Each step is a Dagster
run that a trigger started on a persistent instance; the second turn is started by
the device feedback (``labels_wanted``) and the label count (``labels_approved``).
"""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")
pytest.importorskip("ultralytics", reason="needs qiloop[train]")
pytest.importorskip("mlflow", reason="needs qiloop[registry]")
pytest.importorskip("fastapi", reason="needs qiloop[label]")

from demo_helpers import ANY_MODEL, QUICK_ROLLOUT, demo_home
from qiloop.sim.devices import SimulatedLine
from qiloop.sim.turn import TurnPlan
from qiloop.sim.turn_orchestrated import OrchestratedTurns
from train_overrides import TINY

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # two trainings and a rollout: minutes under load


def test_the_second_turn_is_started_by_the_feedback_and_label_count_triggers(tmp_path):
    home = demo_home(tmp_path)
    settings, images, db, shots = home.settings, home.images, home.db, home.shots
    common = dict(profile="quick", overrides=TINY, gate=ANY_MODEL, policy=QUICK_ROLLOUT)
    said: list[str] = []

    with SimulatedLine.start(settings, root=tmp_path / "line") as line:
        world = home.world(line, say=said.append)
        turns = OrchestratedTurns.for_line(
            settings, line, policy=QUICK_ROLLOUT, retrain_after_labels=1, log_level="ERROR"
        )
        one = turns(world, TurnPlan.resolve(1, "unlabeled", camera=shots[:24], **common))
        assert [(t.step, t.sensor, t.job) for t in one.triggers] == [
            ("label", "labels_wanted", "open_labeling_job"),
            ("train", "labels_approved", "training"),
            ("deploy", "model_approved", "deployment"),
        ], said
        assert all(t.success and t.run_id for t in one.triggers)
        assert one.opened.images == 8 and one.labelled.approved == 8
        assert one.candidate.version == "scratch-detector/1" and one.candidate.checks
        assert one.approved.production == "scratch-detector/1" and one.rollout.succeeded
        assert one.rollout.devices_succeeded == 2 and one.deployed == "scratch-detector/1"
        assert one.collected.results == 24 and one.collected.feedback > 0
        feedback = {e.image_sha256 for e in images.feedback.list()}

        plan = TurnPlan.resolve(2, "feedback", camera=shots[24:], start_from=one.candidate.weights, seed=1, **common)
        two = turns(world, plan)
        assert turns.loop.tick("labels_approved") == []  # no label approved since turn 2's training

    db.dispose()
    label, train = two.triggers[0], two.triggers[1]
    assert (label.sensor, label.job) == ("labels_wanted", "open_labeling_job") and label.run_key.startswith("labels:")
    assert label.run_key != one.triggers[0].run_key
    assert (train.sensor, train.job) == ("labels_approved", "training") and train.run_key.startswith("train:")
    runs = turns.loop.instance.get_runs()
    turns.close()
    assert {r.run_id for r in runs} >= {t.run_id for t in two.triggers if t.started}
    assert all(r.tags.get("dagster/sensor_name") for r in runs)  # every run of the two turns came from a trigger
    # The second model comes from the feedback's new labels, fine-tuned from turn 1's, against production.
    assert two.opened.source == "feedback" and {r.image_sha256 for r in two.labelled.records} == feedback
    assert two.candidate.label_store_version > one.candidate.label_store_version
    assert two.candidate.images == one.candidate.images + len(feedback)
    assert two.candidate.started_from == str(one.candidate.weights)
    assert two.candidate.champion == "scratch-detector/1"
    if two.promotion.promote:
        assert two.triggers[2].job == "deployment" and two.rollout.succeeded
        assert two.production == "scratch-detector/2"
    else:
        assert not two.triggers[2].started and two.rollout is None  # the rollout trigger started nothing
        assert two.production == "scratch-detector/1"
    assert any("trigger labels_approved (run key train:" in line for line in said)
