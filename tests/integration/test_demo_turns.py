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

from qiloop.core.deployments import RolloutPolicy
from qiloop.labeling.db import Database
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.registry import ModelRegistry
from qiloop.settings import Settings
from qiloop.sim.devices import SimulatedLine
from qiloop.sim.turn import TurnPlan, World, run_turn
from qiloop.storage import ImageStore
from qiloop.synth import generate_dataset
from qiloop.training.config import TrainConfig
from qiloop.training.gate import GateConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # two trainings and a rollout: minutes under load

TINY = ["model=builtin:synthetic-yolov8n.pt", "epochs=1", "imgsz=320", "batch=8", "nbs=8", "workers=0",
        "export.calibration_images=4", "export.parity_images=4", "augment.flipud=0.0"]  # fmt: skip


def test_two_turns_label_train_gate_deploy_and_retrain_from_the_feedback(tmp_path):
    settings = Settings(home=tmp_path / "home")
    data = generate_dataset(tmp_path / "data", 40, seed=3, unlabeled=8)
    camera = generate_dataset(tmp_path / "camera", 48, seed=1003)
    shots = sorted((tmp_path / "camera" / "images").rglob("*.jpg"))
    assert camera.images == len(shots) == 48
    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    images.ingest([tmp_path / "data" / "images"], source="camera:test")
    import_parsed(labels_csv.read(data.labels_csv), images, labels, images_root=tmp_path / "data")
    registry = ModelRegistry.from_settings(settings)
    db = Database.from_settings(settings)
    config = TrainConfig.resolve(profile="quick", overrides=TINY)
    gate = GateConfig(min_map50=0.0, min_precision=0.0, min_recall=0.0)  # pending: the promotion rule approves
    policy = RolloutPolicy(canary=1, soak_s=1, health_timeout_s=120)
    said: list[str] = []

    with SimulatedLine.start(settings, root=tmp_path / "line") as line:
        world = World(settings, images, labels, registry, db, line, say=said.append)
        one = run_turn(world, TurnPlan(1, "unlabeled", config, gate, shots[:24], policy=policy))

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

        two = run_turn(
            world,
            TurnPlan(2, "feedback", config, gate, shots[24:], start_from=one.candidate.weights, seed=1, policy=policy),
        )

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
