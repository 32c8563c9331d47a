"""Evaluating model packages through the edge runtime: library calls and ``qiloop evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from qiloop.cli.evaluate import evaluate as evaluate_command
from qiloop.core.errors import NotFoundError
from qiloop.core.package import MANIFEST
from qiloop.labelstore.formats import labels_csv
from qiloop.synth import generate_dataset
from qiloop.training.evaluate import evaluate_package
from qiloop.training.evaluate_csv import evaluate_labels_csv, read_local, resolve_model
from require_helpers import require

REAL_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "metal-tags"


@pytest.fixture(scope="module")
def package(yolo_package):
    """A real (untrained, seeded) YOLOv8n package at 64x96 with an INT8 model (shared, read-only)."""
    return yolo_package


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """6 synthetic images and their labels.csv (refs under s3://${bucket}/pipeline/assets/)."""
    root = tmp_path_factory.mktemp("data")
    generate_dataset(root, 6, seed=4)
    return root


def local_drafts(root: Path):
    parsed = labels_csv.read(root / "labels.csv")
    return [d.with_ref(labels_csv.map_prefix(d.image_ref, labels_csv.REFERENCE_PREFIX, root)) for d in parsed.drafts]


@pytest.mark.parametrize("int8", [False, True])
def test_evaluate_package_runs_the_edge_runtime(package, dataset, int8):
    result = evaluate_package(package, local_drafts(dataset), read_local, int8=int8, threads=1)
    assert result.failures == () and len(result.items) == 6
    assert result.model.endswith("(model.int8.onnx)" if int8 else "(model.onnx)")
    assert result.metrics.confidence == 0.25  # the manifest's default
    assert result.extra["class_names"] == ["scratch"]
    assert sum(len(p) for p in result.predictions) > 0
    assert 0.0 <= result.metrics.map50 <= 1.0


def test_labels_csv_maps_refs_skips_unapproved_and_reports_bad_rows(package, dataset, tmp_path):
    text = (dataset / "labels.csv").read_text()
    lines = text.splitlines()
    lines[1] = lines[1].replace(",APPROVED", ",REJECTED")
    lines[2] = lines[2].replace("images/", "images/missing-")
    lines.append("s3://${bucket}/pipeline/assets/images/x.jpg,450,300,3,not a list,1.0,job,APPROVED")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(lines) + "\n")
    result = evaluate_labels_csv(package, labels, dataset, confidence=0.5, threads=1)
    assert result.extra["skipped"] == 1
    assert len(result.items) == 4 and result.metrics.confidence == 0.5
    reasons = " | ".join(f"{f.image}: {f.reason}" for f in result.failures)
    assert len(result.failures) == 2 and "missing-" in reasons and "not a Python literal" in reasons


def test_resolve_model(package, tmp_path):
    assert resolve_model(package, tmp_path) == package
    assert resolve_model(package / MANIFEST, tmp_path) == package
    with pytest.raises(NotFoundError, match="not a model package"):
        resolve_model(tmp_path, tmp_path)
    with pytest.raises(NotFoundError, match="registry reference"):
        resolve_model("scratch-detector@production", tmp_path)


@pytest.fixture
def cli():
    app = typer.Typer()
    app.command("evaluate")(evaluate_command)

    @app.callback()
    def _root() -> None:
        """Test host."""

    return lambda *args: CliRunner().invoke(app, ["evaluate", *map(str, args)])


def test_cli_prints_the_figures(cli, package, dataset):
    result = cli("--model", package, "--labels", dataset / "labels.csv", "--images-root", dataset, "--threads", 1)
    assert result.exit_code == 0, result.output
    for name in ("mAP50", "mAP50-95", "precision", "recall"):
        assert name in result.output


def test_cli_json_and_pictures(cli, package, dataset, tmp_path):
    out = tmp_path / "report"
    args = ["--model", package, "--labels", dataset / "labels.csv", "--images-root", dataset, "--out", out]
    result = cli(*args, "--json", "--confidence", "0.01", "--worst", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"mAP50", "mAP50-95", "precision", "recall"} <= set(data) and data["images"] == 6
    assert (out / "precision_recall.png").is_file() and (out / "evaluation.json").is_file()
    assert 1 <= len(list(out.glob("*-01-*.png"))) <= 2
    assert all(Path(p).is_file() for p in data["report"]["pictures"])


def test_cli_exit_code_4_when_images_are_unreadable(cli, package, dataset, tmp_path):
    empty_root = tmp_path / "no-images"
    empty_root.mkdir()
    result = cli("--model", package, "--labels", dataset / "labels.csv", "--images-root", empty_root, "--json")
    assert result.exit_code == 4
    assert len(json.loads(result.stdout)["failures"]) == 6


@pytest.mark.slow
def test_cli_evaluates_a_registered_version(cli, package, dataset, tmp_path):
    pytest.importorskip("mlflow")
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    home = tmp_path / "home"
    registry = ModelRegistry.from_settings(Settings(home=home))
    with registry.start_candidate_run("scratch-detector", {"epochs": 0}) as run:
        version = registry.register(run, package, approval="Approved")
    args = ["--labels", dataset / "labels.csv", "--images-root", dataset, "--home", home, "--json", "--threads", 1]
    by_alias = cli("--model", "scratch-detector@production", *args)
    assert by_alias.exit_code == 0, by_alias.output
    by_path = cli("--model", package, *args)
    assert json.loads(by_alias.output)["mAP50"] == json.loads(by_path.output)["mAP50"]
    assert cli("--model", f"scratch-detector/{version.version}", *args).exit_code == 0
    missing = cli("--model", "scratch-detector/99", *args)
    assert isinstance(missing.exception, NotFoundError)


@pytest.mark.slow
@pytest.mark.realdata
def test_real_labels_csv_evaluates_every_labelled_photo(package):
    if not (REAL_DATA / "labels.csv").is_file():
        require("realdata", f"real metal-tag data not found at {REAL_DATA} (it lives outside the project)")
    result = evaluate_labels_csv(package, REAL_DATA / "labels.csv", REAL_DATA, threads=2)
    assert result.failures == () and len(result.items) == 195  # *.jpg_N files decode by content
    assert result.metrics.ground_truth > 350
