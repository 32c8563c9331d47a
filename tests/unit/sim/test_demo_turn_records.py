"""The orchestrated demo turn's pure halves: the training run's config, and the candidate read back from metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pydantic")

from qiloop.sim.turn import TurnPlan
from qiloop.sim.turn_orchestrated import candidate_of, training_run_config
from qiloop.training.gate import GateConfig


def test_the_training_run_takes_the_plan_s_profile_overrides_gate_and_weights():
    gate = GateConfig(min_recall=0.7, approval="manual")
    plan = TurnPlan.resolve(2, "feedback", profile="quick", overrides=["epochs=3"], gate=gate, camera=[],
                            start_from=Path("/w/best.pt"))  # fmt: skip
    config = training_run_config(plan)
    train = config["ops"]["train"]["config"]
    assert train["profile"] == "quick" and train["start_from"] == "/w/best.pt"
    assert train["overrides"][0] == "epochs=3" and "gate.min_recall=0.7" in train["overrides"]
    assert not any(o.startswith("gate.approval") for o in train["overrides"])  # the version step approves
    assert config["ops"]["model_version"]["config"] == {"approval": "auto"}
    assert plan.config.epochs == 3 and plan.overrides == ("epochs=3",)

    from qiloop.training.config import TrainConfig

    resolved = TrainConfig.resolve(profile="quick", overrides=train["overrides"])
    assert resolved.gate.min_recall == 0.7 and resolved.epochs == 3


def test_a_candidate_is_read_back_from_its_materialisation_s_metadata():
    figures = {
        "run_id": "r1", "gate/passed": 1.0, "registered": "scratch-detector/2", "label_store_version": 7.0,
        "split/train": 30.0, "split/val": 5.0, "split/test": 5.0, "test/mAP50": 0.8, "test/recall": 0.7,
        "test_int8/mAP50": 0.79, "operating_confidence/scratch": 0.3, "champion": "scratch-detector/1",
        "champion/mAP50": 0.75, "bytes/fp32": 12e6, "bytes/int8": 3e6, "epochs": 3.0, "reasons": "",
        "started_from": "/w/best.pt", "weights": "/w2/best.pt", "package": "/w2/package", "parity": "same boxes",
        "gate_checks": [{"name": "min_map50", "figure": 0.8, "bound": 0.5, "passed": True, "detail": "0.8 ≥ 0.5"}],
        "seconds": 12.5,
    }  # fmt: skip
    c = candidate_of(figures, {"fingerprint": "abc"})
    assert (c.version, c.passed, c.approval, c.label_store_version) == ("scratch-detector/2", True,
                                                                         "PendingManualApproval", 7)  # fmt: skip
    assert c.splits == {"train": 30, "val": 5, "test": 5} and c.images == 40 and c.dataset == "abc"
    assert c.metrics == {"mAP50": 0.8, "recall": 0.7} and c.int8_metrics == {"mAP50": 0.79}
    assert c.champion_metrics == {"mAP50": 0.75} and c.operating_confidence == {"scratch": 0.3}
    assert c.package_bytes == {"fp32": 12_000_000, "int8": 3_000_000} and c.package == Path("/w2/package")
    assert c.checks[0].name == "min_map50" and c.checks[0].passed and c.reasons == ()

    refused = candidate_of(figures | {"gate/passed": 0.0, "registered": "", "reasons": "recall 0.2 < 0.6; x"})
    assert refused.version is None and refused.approval is None and refused.reasons == ("recall 0.2 < 0.6", "x")
