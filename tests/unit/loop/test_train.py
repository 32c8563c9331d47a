"""Training a candidate: refused on too few labels; a second candidate from new labels, fine-tuned from the first,
gated against the first on the same test images."""

from __future__ import annotations

import pytest

from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.loop.train import train_candidate
from train_overrides import TINY


def test_too_few_approved_labels_refuse_to_start(home, approve):
    pytest.importorskip("ultralytics", reason="needs qiloop[train]")
    from labeling_helpers import ingest_images
    from qiloop.training.config import TrainConfig

    def train():
        train_candidate(
            TrainConfig(), images=home.images, labels=home.labels, registry=None, workdir=home.settings.home / "r"
        )

    with pytest.raises(NotFoundError, match="is empty"):
        train()
    approve(home.labels, ingest_images(home.images, 2))
    with pytest.raises(ConfigurationError, match="holds 2 approved images; training needs at least 8"):
        train()
    assert not (home.settings.home / "r").exists()  # refused before anything was written


@pytest.mark.slow
def test_a_second_candidate_comes_from_new_labels_and_is_compared_with_production(home, tmp_path):
    pytest.importorskip("ultralytics", reason="needs qiloop[train]")
    pytest.importorskip("mlflow", reason="needs qiloop[registry]")
    from qiloop.labelstore.formats import labels_csv
    from qiloop.labelstore.importer import import_parsed
    from qiloop.registry import ModelRegistry
    from qiloop.synth import generate_dataset
    from qiloop.training.config import TrainConfig
    from qiloop.training.gate import GateConfig

    registry = ModelRegistry.from_settings(home.settings)
    first_data = generate_dataset(tmp_path / "a", 40, seed=3)
    import_parsed(labels_csv.read(first_data.labels_csv), home.images, home.labels, images_root=tmp_path / "a")
    config = TrainConfig.resolve(profile="quick", overrides=TINY)
    gate = GateConfig(min_map50=0.0, min_precision=0.0, min_recall=0.0, approval="auto", max_regression=1.0,
                      max_recall_regression=1.0)  # fmt: skip
    steps: list[str] = []

    first = train_candidate(config, gate, images=home.images, labels=home.labels, registry=registry,
                            workdir=tmp_path / "run-1", on_step=steps.append)  # fmt: skip

    assert steps[:2] == ["dataset", "train"] and steps[-1] == "register"
    assert first.passed and first.version == "scratch-detector/1" and first.approval == "Approved"
    assert first.champion is None and first.champion_metrics == {}
    assert first.weights.is_file() and first.weights.suffix == ".pt" and (first.package / "manifest.json").is_file()
    assert first.started_from == "builtin:synthetic-yolov8n.pt" and first.epochs == 1
    assert first.label_store_version == home.labels.version() and first.images == 40
    assert set(first.metrics) >= {"mAP50", "mAP50-95", "precision", "recall"}
    assert set(first.operating_confidence) == {"scratch"}
    assert {c.name for c in first.checks} >= {"min_metric", "min_precision", "min_recall"}
    assert first.metadata()["test/mAP50"] == first.metrics["mAP50"] and first.metadata()["gate/passed"] == 1.0

    more = generate_dataset(tmp_path / "b", 8, seed=6)
    import_parsed(labels_csv.read(more.labels_csv), home.images, home.labels, images_root=tmp_path / "b")
    second = train_candidate(config, gate, images=home.images, labels=home.labels, registry=registry,
                             workdir=tmp_path / "run-2", start_from=first.weights)  # fmt: skip

    assert second.label_store_version > first.label_store_version and second.images == 48
    assert second.dataset != first.dataset and second.started_from == str(first.weights)
    assert second.champion == "scratch-detector/1" and set(second.champion_metrics) == {"mAP50", "recall"}
    assert {c.name for c in second.checks} >= {"regression_metric", "regression_recall"}
    assert second.version == "scratch-detector/2"
    # The new version's package is a new network, not the first one repackaged.
    assert (second.package / "model.onnx").read_bytes() != (first.package / "model.onnx").read_bytes()
