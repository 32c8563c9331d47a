"""The gate check emits a result on every path: a check that reports nothing would block nothing."""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")

import dagster as dg

from qiloop.orchestration.assets_model import CANDIDATE
from qiloop.orchestration.definitions import loop_assets
from qiloop.orchestration.resources import resources_for

pytest.importorskip("mlflow", reason="needs qiloop[registry]")


def run_gate(settings, instance) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        loop_assets(),
        selection=dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey(CANDIDATE), "gate")),
        resources=resources_for(settings),
        instance=instance,
        raise_on_error=False,
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def candidate(instance, **metadata) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=CANDIDATE, metadata=metadata))


def test_no_candidate_is_a_failed_gate_that_says_so(settings, instance):
    evaluation = run_gate(settings, instance)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "no trained candidate" in evaluation.description


def test_an_unreadable_run_or_a_run_without_a_decision_fails_the_gate(settings, instance):
    from qiloop.registry import ModelRegistry

    candidate(instance, run_id="0123456789abcdef", **{"gate/passed": 1.0})
    evaluation = run_gate(settings, instance)
    assert (
        not evaluation.passed
        and "could not be read" in evaluation.description
        and "NotFoundError" in (evaluation.description)
    )

    registry = ModelRegistry.from_settings(settings)
    with registry.start_candidate_run("scratch-detector", {"epochs": 1}) as run:
        run_id = run.run_id  # trained, but no gate decision recorded on the run
    candidate(instance, run_id=run_id, **{"gate/passed": 1.0})
    evaluation = run_gate(settings, instance)
    assert not evaluation.passed and "holds no gate decision" in evaluation.description


def test_the_recorded_decision_is_the_checks_verdict(settings, instance):
    from qiloop.registry import ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    with registry.start_candidate_run("scratch-detector", {"epochs": 1}) as run:
        run.set_tags({"gate_passed": "false", "gate_reasons": "recall at the operating point 0.40 is below the "
                      "minimum 0.60", "gate_check.min_recall": "fail", "gate_check.min_metric": "pass"})  # fmt: skip
    candidate(instance, run_id=run.run_id, **{"gate/passed": 0.0, "test/mAP50": 0.7, "test/recall": 0.4})
    refused = run_gate(settings, instance)
    assert not refused.passed and refused.description.startswith("refused: recall at the operating point 0.40")
    figures = {k: getattr(v, "value", v) for k, v in refused.metadata.items()}
    assert figures["check/min_recall"] == 0 and figures["check/min_metric"] == 1 and figures["checks_failed"] == 1
    assert figures["candidate/recall"] == pytest.approx(0.4)

    # The candidate's metadata and its run must agree; they do not here.
    candidate(instance, run_id=run.run_id, **{"gate/passed": 1.0})
    assert "disagree" in run_gate(settings, instance).description
