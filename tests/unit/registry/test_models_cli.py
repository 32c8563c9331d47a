"""`qiloop models ...` through Typer's test runner, on a real registry in a temporary home."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from qiloop.cli import models as models_cli
from qiloop.core.errors import NotFoundError
from qiloop.core.package import read_manifest

runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory, package_factory):
    """A home with scratch-detector/1 (Approved, production) and /2 (pending)."""
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    root = tmp_path_factory.mktemp("cli")
    registry = ModelRegistry.from_settings(Settings(home=root / "home"))
    for i, approval in enumerate(["Approved", "PendingManualApproval"]):
        package = package_factory(root / f"p{i}", seed=float(i + 1), map50=0.7 + 0.1 * i)
        with registry.start_candidate_run("scratch-detector") as run:
            registry.register(run, package, approval=approval)
    return root / "home"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(models_cli.app, name="models")
    return root


def invoke(app, home, *args):
    return runner.invoke(app, ["models", *map(str, args), "--home", str(home)])


def test_ls_json_and_table(app, home):
    result = invoke(app, home, "ls", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["name"], r["version"], r["approval"], r["aliases"]) for r in rows] == [
        ("scratch-detector", 1, "Approved", ["production"]),
        ("scratch-detector", 2, "PendingManualApproval", []),
    ]
    assert rows[1]["metrics"]["mAP50"] == pytest.approx(0.8) and rows[0]["dataset_snapshot"] == "f" * 16
    table = invoke(app, home, "ls", "--name", "scratch-detector")
    assert table.exit_code == 0 and "scratch-detector: 2 versions" in table.output
    assert "production" in table.output and "PendingManualApproval" in table.output


def test_show_by_bare_name_is_production(app, home):
    result = invoke(app, home, "show", "scratch-detector", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["version"], shown["label_store_version"], shown["git_commit"]) == (1, 3, "0123abc")
    assert set(shown["files"]) == {"model.onnx", "model.int8.onnx"}
    text = invoke(app, home, "show", "scratch-detector/2")
    assert text.exit_code == 0, text.output
    colon = invoke(app, home, "show", "scratch-detector:2")  # the form results and feedback used to print
    assert colon.exit_code == 0 and colon.output == text.output
    sha = read_manifest(home.parent / "p1").files["model.onnx"].sha256
    assert f"sha256 {sha}" in text.output and "PendingManualApproval" in text.output


def test_approve_then_reject_moves_production(app, home):
    approved = invoke(app, home, "approve", "scratch-detector/2", "--reason", "line trial ok", "--json")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.stdout)["production"] == "scratch-detector/2"
    missing_reason = invoke(app, home, "reject", "scratch-detector/2")
    assert missing_reason.exit_code == 2 and "--reason" in missing_reason.output
    rejected = invoke(app, home, "reject", "2", "--reason", "false alarms")
    assert rejected.exit_code == 0, rejected.output
    assert "Rejected" in rejected.output and "production: scratch-detector/1" in rejected.output


def test_download_verifies_the_package(app, home, tmp_path):
    result = invoke(app, home, "download", "scratch-detector@production", "--out", tmp_path / "pkg", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ref"] == "scratch-detector/1"
    assert set(read_manifest(tmp_path / "pkg").files) == {"model.onnx", "model.int8.onnx"}


def test_unknown_refs_raise_not_found_with_exit_code_5(app, home):
    result = invoke(app, home, "show", "scratch-detector/9")
    assert isinstance(result.exception, NotFoundError) and result.exception.exit_code == 5
    assert "1 (Approved @production)" in result.exception.hint
    result = invoke(app, home, "ls", "--name", "nope")
    assert isinstance(result.exception, NotFoundError) and "scratch-detector" in result.exception.hint


def test_empty_registry_lists_nothing(app, tmp_path):
    (tmp_path / "fresh").mkdir()
    result = invoke(app, tmp_path / "fresh", "ls", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_a_missing_home_is_not_created(app, tmp_path):
    result = invoke(app, tmp_path / "typo", "ls")
    assert isinstance(result.exception, NotFoundError) and "--home" in result.exception.hint
    assert not (tmp_path / "typo").exists()


def test_show_prints_the_audited_decisions_of_the_version(app, home):
    shown = invoke(app, home, "show", "scratch-detector/1", "--json")
    assert shown.exit_code == 0, shown.output
    (decision,) = json.loads(shown.stdout)["decisions"]
    assert (decision["state"], decision["actor"], decision["version"]) == ("Approved", "gate (approval: auto)", 1)
    text = invoke(app, home, "show", "scratch-detector/1")
    assert "decision              Approved by gate (approval: auto) at " in text.output


def test_show_says_when_no_decision_was_recorded(app, tmp_path, package_factory):
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    registry = ModelRegistry.from_settings(Settings(home=tmp_path / "home"))
    with registry.start_candidate_run("scratch-detector") as run:
        registry.register(run, package_factory(tmp_path / "p", seed=3.0, map50=0.7))
    pending = invoke(app, tmp_path / "home", "show", "scratch-detector/1")
    assert pending.exit_code == 0 and "none recorded (not approved or rejected yet)" in pending.output
