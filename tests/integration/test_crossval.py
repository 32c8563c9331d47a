"""Cross-validation grouped by photo, for real: each round trains and is scored on a fold it never saw."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ultralytics", reason="needs qiloop[train]")

from typer.testing import CliRunner

from qiloop.cli.main import app, main
from qiloop.core.errors import ConfigurationError
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.settings import load_settings
from qiloop.storage import ImageStore
from qiloop.synth import generate_dataset
from qiloop.training.config import TrainConfig
from qiloop.training.crossval import SUMMARY_JSON, SUMMARY_PNG, cross_validate

pytestmark = pytest.mark.slow

TINY = ["model=builtin:synthetic-yolov8n.pt", "epochs=1", "imgsz=128", "batch=8", "nbs=8", "workers=0"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("crossval")
    settings = load_settings(home=root / "home")
    report = generate_dataset(root / "synth", 24, seed=5)
    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    assert import_parsed(labels_csv.read(report.labels_csv), images, labels, images_root=root / "synth").errors == []
    return settings, images, labels, root


def test_every_round_tests_on_its_own_fold_and_the_summary_is_written(world, tmp_path, monkeypatch):
    _settings, images, labels, root = world
    monkeypatch.chdir(tmp_path)  # nothing may land in the working directory
    config = TrainConfig.resolve(profile="quick", overrides=TINY)
    seen: list[tuple[int, str]] = []
    result = cross_validate(
        config, labels=labels, images=images, workdir=root / "cv", folds=3, on_fold=lambda f, s: seen.append((f, s))
    )
    assert [r.fold for r in result.rounds] == [0, 1, 2]
    assert seen[:3] == [(0, "dataset"), (0, "train"), (0, "test")]
    tested = [r.images["test"] for r in result.rounds]
    assert sum(tested) == len(labels.snapshot().record_ids)  # every image tested exactly once
    for r in result.rounds:
        assert set(r.metrics) == {"mAP50", "mAP50-95", "precision", "recall"}
        assert all(0.0 <= v <= 1.0 for v in r.metrics.values())
    summary = json.loads((root / "cv" / SUMMARY_JSON).read_text())
    assert summary["summary"]["mAP50"]["mean"] == pytest.approx(result.mean("mAP50"))
    assert summary["summary"]["mAP50"]["std"] == pytest.approx(result.std("mAP50"))
    assert (root / "cv" / SUMMARY_PNG).stat().st_size > 1000
    assert list(tmp_path.iterdir()) == []  # ultralytics' validator wrote no runs/ folder here


def test_cli_runs_one_round_and_registers_nothing(world):
    settings, _images, _labels, root = world
    out = root / "cli-cv"
    args = ["train", "--home", str(settings.home), "--profile", "quick", "--folds", "4", "--fold", "2"]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--json", *TINY])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["folds"] == 4 and [r["fold"] for r in summary["rounds"]] == [2]
    assert not (settings.home / "mlflow").exists() or "registered" not in summary


def test_cli_refuses_a_round_without_folds_and_too_many_folds(world):
    settings, _images, _labels, _root = world
    base = ["train", "--home", str(settings.home), "--profile", "quick", *TINY]
    result = CliRunner().invoke(app, [*base, "--fold", "1"])
    assert result.exit_code == 2 and "--fold needs --folds" in result.output
    with pytest.raises(ConfigurationError, match="cannot fill 500 folds"):
        CliRunner().invoke(app, [*base, "--folds", "500"], catch_exceptions=False)
    assert main([*base, "--folds", "500"]) == 2  # the entry point prints it with its hint
