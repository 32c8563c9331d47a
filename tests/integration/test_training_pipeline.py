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

pytestmark = pytest.mark.slow

TINY = [
    "epochs=1",
    "imgsz=128",
    "batch=8",
    "nbs=8",
    "workers=0",
    "export.calibration_images=4",
    "export.parity_images=4",
]


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
    assert steps == ["dataset", "train", "export", "evaluate", "gate", "register"]
    assert result.decision.passed and result.version is not None
    assert result.export.parity.ok
    manifest = read_manifest(result.export.folder)
    assert {"model.onnx", "model.int8.onnx"} <= set(manifest.files)
    assert (manifest.input_height, manifest.input_width) == (96, 128)  # 450x300 at long side 128
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
