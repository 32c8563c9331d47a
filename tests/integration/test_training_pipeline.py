"""The whole training pipeline, for real: label store → train → export → evaluate → gate → MLflow."""

from __future__ import annotations

import pytest

pytest.importorskip("ultralytics", reason="needs qiloop[train]")
pytest.importorskip("mlflow", reason="needs qiloop[registry]")

from qiloop.core.package import read_manifest
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.registry import ModelRegistry
from qiloop.settings import load_settings
from qiloop.storage import ImageStore
from qiloop.synth import generate_dataset
from qiloop.training.config import TrainConfig
from qiloop.training.gate import GateConfig
from qiloop.training.pipeline import run_training
from train_overrides import TINY

pytestmark = pytest.mark.slow

# One epoch of fine-tuning the checkpoint qiloop ships: a model that finds scratches, in seconds
# (without the quick profile's vertical flips, which one pass over 40 images does not recover from).


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    settings = load_settings(home=root / "home")
    report = generate_dataset(root / "synth", 40, seed=3)
    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    result = import_parsed(labels_csv.read(report.labels_csv), images, labels, images_root=root / "synth")
    assert result.errors == []
    return settings, images, labels, ModelRegistry.from_settings(settings), root


def test_train_export_gate_register_and_read_back_production(world):
    _settings, images, labels, registry, root = world
    config = TrainConfig.resolve(profile="quick", overrides=TINY)
    steps: list[str] = []
    result = run_training(
        config,
        GateConfig(min_map50=0.0, approval="auto"),
        labels=labels,
        images=images,
        registry=registry,
        workdir=root / "run1",
        on_step=steps.append,
    )
    assert steps == ["dataset", "train", "export", "operating point", "evaluate", "gate", "register"]
    assert result.decision.passed and result.version is not None
    assert result.export.parity.ok
    manifest = read_manifest(result.export.folder)
    assert {"model.onnx", "model.int8.onnx"} <= set(manifest.files)
    assert (manifest.input_height, manifest.input_width) == (224, 320)  # 450x300 at long side 320
    # The operating point was chosen on the validation split and is what the test figures were taken at.
    point = manifest.operating_point
    assert point["split"] == "val" and point["images"] > 0
    chosen = point["classes"]["scratch"]["confidence"]
    assert manifest.thresholds.class_confidence == {"scratch": chosen} and manifest.thresholds.confidence == chosen
    assert result.evaluation.summary()["confidence"] == pytest.approx(chosen)
    assert result.evaluation.summary()["recall"] > 0 and result.decision.passed
    assert {c.name for c in result.decision.checks} >= {"min_metric", "min_precision", "min_recall"}
    assert manifest.label_store_version == labels.version()
    assert "mAP50" in manifest.metrics and "mAP50" in manifest.int8_metrics

    production = registry.production(config.name)
    assert production is not None and production.version == result.version.version
    assert production.dataset_snapshot == result.dataset.snapshot.fingerprint
    downloaded = registry.download(f"{config.name}@production", root / "downloaded")
    assert read_manifest(downloaded).files == manifest.files
    assert (root / "run1" / "evaluation" / "precision_recall.png").is_file()


def test_a_failing_candidate_is_not_registered_and_says_why(world):
    _settings, images, labels, registry, root = world
    before = len(registry.versions("scratch-detector"))
    config = TrainConfig.resolve(profile="quick", overrides=TINY)
    result = run_training(
        config,
        GateConfig(min_map50=0.99, approval="auto"),
        labels=labels,
        images=images,
        registry=registry,
        workdir=root / "run2",
    )
    assert not result.decision.passed and result.version is None
    assert any("0.99" in reason or "below" in reason for reason in result.decision.reasons)
    assert len(registry.versions("scratch-detector")) == before
    tags = registry.run(result.run_id).tags()
    assert tags["gate_passed"] == "false" and tags["gate_reasons"]
    assert registry.run(result.run_id).params()["gate.min_map50"] == "0.99"  # the gate that was applied


def test_a_model_that_finds_nothing_is_never_registered_whatever_the_bar(world):
    _settings, images, labels, registry, root = world
    before = len(registry.versions("scratch-detector"))
    # From random weights, one epoch finds no scratch at any confidence.
    config = TrainConfig.resolve(profile="quick", overrides=[*TINY, "model=yolov8n.yaml", "imgsz=128"])
    result = run_training(
        config,
        GateConfig(min_map50=0.0, min_precision=0.0, min_recall=0.0, approval="auto"),
        labels=labels,
        images=images,
        registry=registry,
        workdir=root / "run3",
    )
    assert result.evaluation.summary()["recall"] == 0.0
    assert not result.decision.passed and result.version is None
    failed = [c.name for c in result.decision.checks if not c.passed]
    assert "finds_defects" in failed and not {"min_metric", "min_precision", "min_recall"} & set(failed)
    assert len(registry.versions("scratch-detector")) == before
