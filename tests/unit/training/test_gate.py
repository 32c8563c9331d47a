"""The gate: the pure decision table, then its record on a real MLflow run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qiloop.core.errors import ConfigurationError, QiloopError
from qiloop.core.models import ApprovalStatus
from qiloop.core.package import read_manifest, write_manifest
from qiloop.training.gate import GateConfig, decide, measure_champion, record_decision

AUTO = GateConfig(approval="auto")
# Precision and recall at the operating point that pass the default minimums.
OK = {"precision": 0.9, "recall": 0.8}


def figures(map50: float, **overrides: float) -> dict[str, float]:
    return {"mAP50": map50, **OK, **overrides}


@pytest.mark.parametrize(
    ("candidate", "champion", "config", "passed", "fragment"),
    [
        (0.80, None, AUTO, True, "no production model"),
        (0.50, None, AUTO, True, "reaches the minimum"),
        (0.49, None, AUTO, False, "below the minimum 0.5000"),
        (0.80, 0.81, AUTO, True, "-0.0100 against the production model"),
        (0.70, 0.72, AUTO, True, "-0.0200 against"),  # exactly the allowance, despite float rounding
        (0.70, 0.7201, AUTO, False, "0.0201 below the production model (0.7201)"),
        (0.90, 0.60, AUTO, True, "+0.3000 against"),
        (0.30, 0.90, AUTO, False, "below the minimum"),
        (0.80, 0.85, GateConfig(max_regression=0.1), True, "-0.0500"),
        (0.60, None, GateConfig(min_map50=0.7), False, "below the minimum 0.7000"),
        (float("nan"), None, AUTO, False, "not a number"),
    ],
)
def test_decide(candidate, champion, config, passed, fragment):
    decision = decide(figures(candidate), None if champion is None else figures(champion), config, "m/1")
    assert decision.passed is passed
    assert fragment in " ".join(decision.reasons + decision.notes)
    assert (decision.reasons == []) is passed
    assert decision.approval == (config.approval_status if passed else None)
    if champion is None:
        assert decision.delta is None and decision.champion_ref is None
    else:
        assert decision.delta == pytest.approx(candidate - champion) and decision.champion_ref == "m/1"


def test_both_failures_are_reported():
    decision = decide(figures(0.3), figures(0.9), AUTO)
    assert len(decision.reasons) == 2 and not decision.passed


@pytest.mark.parametrize("map50", [0.0, 0.5, 0.9, 0.995])
@pytest.mark.parametrize("config", [AUTO, GateConfig(min_map50=0, min_precision=0, min_recall=0)])
def test_recall_zero_is_refused_at_any_map50(map50, config):
    decision = decide(figures(map50, precision=0.0, recall=0.0), None, config)
    assert not decision.passed and decision.approval is None
    assert any("finds no defect" in r for r in decision.reasons)
    assert [c.name for c in decision.checks if not c.passed][-1] == "finds_defects"


@pytest.mark.parametrize(
    ("candidate", "champion", "config", "failing"),
    [
        (figures(0.8, precision=0.49), None, AUTO, ["min_precision"]),
        (figures(0.8, recall=0.59), None, AUTO, ["min_recall"]),
        (figures(0.8, recall=0.3), None, GateConfig(min_recall=0.3), []),
        (figures(0.8, recall=0.70), figures(0.8, recall=0.80), AUTO, ["regression_recall"]),
        (figures(0.8, recall=0.75), figures(0.8, recall=0.80), AUTO, []),  # exactly the allowance
        (figures(0.8, recall=0.70), figures(0.8, recall=0.80), GateConfig(max_recall_regression=0.1), []),
        (figures(0.4, precision=0.1, recall=0.1), None, AUTO, ["min_metric", "min_precision", "min_recall"]),
    ],
)
def test_precision_recall_and_their_regression(candidate, champion, config, failing):
    decision = decide(candidate, champion, config)
    assert [c.name for c in decision.checks if not c.passed] == failing
    assert decision.passed is (not failing)
    assert len(decision.reasons) == len(failing)
    for check in decision.checks:  # every check carries its figure and verdict
        assert check.detail and check.passed is (check.name not in failing)


def test_precision_and_recall_are_required():
    with pytest.raises(ConfigurationError, match="candidate metrics lack 'recall'"):
        decide({"mAP50": 0.9, "precision": 0.9}, None, AUTO)


def test_manual_approval_and_other_metric():
    config = GateConfig(metric="mAP50-95", min_map50=0.4)
    decision = decide(figures(0.1, **{"mAP50-95": 0.45}), figures(0.1, **{"mAP50-95": 0.44}), config)
    assert decision.passed and decision.approval == ApprovalStatus.PENDING and decision.metric == "mAP50-95"


def test_missing_metric_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match=r"candidate metrics lack 'mAP50' \(have: map, precision, recall\)"):
        decide({"map": 0.9, **OK}, None, AUTO)
    with pytest.raises(ConfigurationError, match="champion metrics lack"):
        decide(figures(0.9), {}, AUTO)


def test_config_validates():
    with pytest.raises(ValueError):
        GateConfig(approval="sometimes")
    with pytest.raises(ValueError):
        GateConfig(min_map50=1.5)


# -- on a real registry ---------------------------------------------------------------------------


def package(folder: Path, payload: bytes, map50: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(payload)
    write_manifest(folder, name="gate", classes=["scratch"], input_width=64, input_height=32, metrics={"mAP50": map50})
    return folder


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    return ModelRegistry.from_settings(Settings(home=tmp_path_factory.mktemp("home")))


def test_failing_candidate_is_not_registered_and_its_run_says_why(registry, tmp_path):
    champion_pkg = package(tmp_path / "champion", b"champion", 0.82)
    with registry.start_candidate_run("gate") as run:
        registry.register(run, champion_pkg, name="gate", approval="Approved")

    def evaluate(folder: Path) -> dict[str, float]:  # stands in for evaluation on the test split
        return dict(read_manifest(folder).metrics)

    champion, champion_metrics = measure_champion(registry, evaluate, name="gate", workdir=tmp_path)
    assert champion.ref == "gate/1" and champion_metrics == {"mAP50": pytest.approx(0.82)}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("champion-")]

    candidate_pkg = package(tmp_path / "candidate", b"candidate", 0.71)
    with registry.start_candidate_run("gate") as run:
        decision = decide(figures(0.71), champion_metrics | OK, AUTO, champion.ref)
        record_decision(run, decision)
        with pytest.raises(QiloopError, match="failed the gate"):
            registry.register(run, candidate_pkg, name="gate", approval=decision.approval or "Approved")
    tags = run.tags()
    assert tags["gate_passed"] == "false" and tags["gate_champion"] == "gate/1"
    assert "0.1100 below the production model (0.8200)" in tags["gate_reasons"]
    assert run.metrics()["gate/delta"] == pytest.approx(-0.11)
    assert tags["gate_check.regression_metric"] == "fail" and tags["gate_check.min_recall"] == "pass"
    assert run.metrics()["gate/min_recall"] == pytest.approx(0.8)
    stored = json.loads(Path(run.client.download_artifacts(run.run_id, "gate.json", str(tmp_path))).read_text())
    assert stored["passed"] is False and stored["candidate"] == pytest.approx(0.71)
    assert [v.version for v in registry.versions("gate")] == [1]


def test_passing_candidate_is_registered_as_configured(registry, tmp_path):
    assert measure_champion(registry, lambda p: {}, name="nothing-yet") == (None, None)
    with registry.start_candidate_run("gate-pass") as run:
        decision = decide(figures(0.9), None, GateConfig())
        record_decision(run, decision)
        version = registry.register(
            run, package(tmp_path / "p", b"ok", 0.9), name="gate-pass", approval=decision.approval
        )
    assert run.tags()["gate_passed"] == "true" and run.tags()["gate_reasons"].startswith("passed: ")
    assert version.approval == ApprovalStatus.PENDING and registry.production("gate-pass") is None
    assert not math.isnan(run.metrics()["gate/candidate"])
