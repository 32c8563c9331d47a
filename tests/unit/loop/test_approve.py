"""Approval on the record, and the promotion rule: passed the gate and better than production on the same images."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest

from qiloop.loop.approve import approve_version, promotion

pytest.importorskip("mlflow", reason="needs qiloop[registry]")


def candidate(version="m/2", *, champion="m/1", mine=0.80, theirs=0.78, recall=None, reasons=()):
    metrics, champion_metrics = {"mAP50": mine}, {} if champion is None else {"mAP50": theirs}
    if recall is not None:  # (candidate's, production's)
        metrics["recall"], champion_metrics["recall"] = recall
    return SimpleNamespace(
        version=version, reasons=reasons, champion=champion, metrics=metrics, champion_metrics=champion_metrics
    )


@pytest.mark.parametrize(
    ("given", "min_gain", "promote", "says"),
    [
        (candidate(version=None, reasons=("recall 0.1 is below the minimum 0.6",)), 0.0, False, "recall 0.1"),
        (candidate(version=None), 0.0, False, "it was not registered"),
        (candidate(champion=None), 0.0, True, "no production model yet"),
        (candidate(mine=0.80, theirs=0.78), 0.0, True, "mAP50 0.800 beats production m/1 (0.780)"),
        (candidate(mine=0.80, theirs=0.80), 0.0, False, "does not beat production m/1"),
        (candidate(mine=0.79, theirs=0.80), 0.0, False, "mAP50 0.790 against 0.800"),
        (candidate(mine=0.80, theirs=0.78), 0.05, False, "does not beat"),
        # More defects found at the operating point (the gate already bounds the mAP50 fall).
        (candidate(mine=0.79, theirs=0.80, recall=(0.70, 0.62)), 0.0, True, "recall at the operating point 0.700"),
        (candidate(mine=0.79, theirs=0.80, recall=(0.62, 0.62)), 0.0, False, "recall at the operating point 0.620 "
                                                                               "against 0.620"),
        (candidate(mine=0.79, theirs=0.80, recall=(0.70, 0.62)), 0.1, False, "does not beat"),
    ],
)  # fmt: skip
def test_the_promotion_rule(given, min_gain, promote, says):
    decided = promotion(given, min_gain=min_gain)
    assert decided.promote is promote and says in decided.reason, decided


def test_a_missing_figure_is_no_promotion():
    decided = promotion(candidate(), metric="mAP50-95")
    assert not decided.promote and "no mAP50-95" in decided.reason


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    return ModelRegistry.from_settings(Settings(home=tmp_path_factory.mktemp("home")))


def register(registry, package, approval):
    with registry.start_candidate_run("approvals", {"epochs": 1}) as run:
        return registry.register(run, package, name="approvals", approval=approval)


def test_approving_a_pending_version_makes_it_production_on_the_record(registry, tiny_package, tmp_path):
    package = shutil.copytree(tiny_package, tmp_path / "package")
    first = register(registry, package, "Approved")
    second = register(registry, package, "PendingManualApproval")
    assert registry.production("approvals").ref == first.ref

    approved = approve_version(registry, second.ref, reason="beats production", actor="loop (promotion rule)")

    assert (approved.version, approved.previous_production, approved.production) == (second.ref, first.ref, second.ref)
    assert approved.production_changed and approved.actor == "loop (promotion rule)"
    record = registry.approvals("approvals")[-1]
    assert (record.ref, record.actor, record.reason) == (second.ref, "loop (promotion rule)", "beats production")
    assert registry.approved("approvals@production").ref == second.ref

    again = approve_version(registry, second.ref)
    assert not again.production_changed
