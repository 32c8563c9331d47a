"""The gate between a trained candidate and the model registry.

A candidate passes when its metric (mAP50 by default) reaches ``min_map50`` and
is not worse than the current production model (the champion) by more than
``max_regression``, both measured on the same, current test split. Passing
candidates are registered as Approved (``approval: auto``) or pending manual
approval; failing ones are not registered, and their run records why.

``decide`` is pure; ``measure_champion`` and ``record_decision`` are thin calls.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.errors import ConfigurationError
from qiloop.core.models import ApprovalStatus, ModelVersion

if TYPE_CHECKING:
    from qiloop.registry import ModelRegistry

# A regression equal to the allowance passes despite float rounding (0.70 - 0.72).
_EPS = 1e-9


class GateConfig(BaseModel):
    """The promotion rule, part of the training configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_map50: float = Field(default=0.5, ge=0, le=1, description="Lowest acceptable value of `metric`.")
    max_regression: float = Field(default=0.02, ge=0, le=1, description="How far below the champion it may fall.")
    metric: str = Field(default="mAP50", min_length=1, description="The metric both rules compare.")
    approval: Literal["auto", "manual"] = Field(
        default="manual", description="auto: register passing candidates as Approved; manual: as pending."
    )

    @property
    def approval_status(self) -> ApprovalStatus:
        return ApprovalStatus.APPROVED if self.approval == "auto" else ApprovalStatus.PENDING


class GateDecision(BaseModel):
    """What the gate decided and why, as recorded on the candidate's run."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    reasons: list[str] = Field(default_factory=list, description="Why it failed (empty when it passed).")
    notes: list[str] = Field(default_factory=list, description="The checks that held.")
    metric: str
    candidate: float
    champion: float | None = None
    champion_ref: str | None = None
    delta: float | None = None
    approval: ApprovalStatus | None = Field(default=None, description="How to register it; None when it failed.")


def _value(metrics: Mapping[str, float], metric: str, whose: str) -> float:
    if metric not in metrics:
        raise ConfigurationError(
            f"the {whose} metrics lack {metric!r} (have: {', '.join(sorted(metrics)) or 'none'})",
            hint="set gate.metric to one of the evaluated metrics",
        )
    return float(metrics[metric])


def decide(
    candidate_metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
    config: GateConfig,
    champion_ref: str | None = None,
) -> GateDecision:
    """Apply the gate to a candidate and (if there is one) the champion, measured on the same images.

    Example:
        >>> decide({"mAP50": 0.81}, {"mAP50": 0.85}, GateConfig()).reasons
        ['mAP50 0.8100 is 0.0400 below the production model (0.8500); at most 0.0200 is allowed']
    """
    metric = config.metric
    value = _value(candidate_metrics, metric, "candidate")
    reasons: list[str] = []
    notes: list[str] = []
    if not math.isfinite(value):
        reasons.append(f"{metric} is not a number ({value}); the test split may hold no labelled boxes")
    elif value < config.min_map50:
        reasons.append(f"{metric} {value:.4f} is below the minimum {config.min_map50:.4f}")
    else:
        notes.append(f"{metric} {value:.4f} reaches the minimum {config.min_map50:.4f}")
    champion = delta = None
    if champion_metrics is None:
        notes.append("no production model to compare against")
    else:
        champion = _value(champion_metrics, metric, "champion")
        delta = value - champion
        if delta < -config.max_regression - _EPS:
            reasons.append(
                f"{metric} {value:.4f} is {-delta:.4f} below the production model ({champion:.4f}); "
                f"at most {config.max_regression:.4f} is allowed"
            )
        elif math.isfinite(delta):
            notes.append(f"{metric} {delta:+.4f} against the production model ({champion:.4f})")
    passed = not reasons
    return GateDecision(
        passed=passed,
        reasons=reasons,
        notes=notes,
        metric=metric,
        candidate=value,
        champion=champion,
        champion_ref=champion_ref if champion_metrics is not None else None,
        delta=delta,
        approval=config.approval_status if passed else None,
    )


def measure_champion(
    registry: ModelRegistry,
    evaluate: Callable[[Path], Mapping[str, float]],
    *,
    name: str = "scratch-detector",
    workdir: Path | None = None,
) -> tuple[ModelVersion | None, dict[str, float] | None]:
    """Download the production model and evaluate it with ``evaluate(package_dir)``.

    The caller's ``evaluate`` must use the candidate's test split, so both are
    compared on the same images. Returns ``(None, None)`` when nothing is in production.
    """
    champion = registry.production(name)
    if champion is None:
        return None, None
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="champion-") as tmp:
        package = registry.download(champion.ref, Path(tmp) / "package")
        return champion, {k: float(v) for k, v in evaluate(package).items()}


def record_decision(run: Any, decision: GateDecision) -> None:
    """Record the decision on the candidate's run: tags, metrics and ``gate.json``.

    Tags ``gate_passed`` (true/false) and ``gate_reasons`` make failed candidates
    findable in the MLflow UI; the registry refuses to register a run whose
    ``gate_passed`` is false.
    """
    run.set_tags(
        {
            "gate_passed": str(decision.passed).lower(),
            "gate_reasons": "; ".join(decision.reasons) or "passed: " + "; ".join(decision.notes),
            "gate_metric": decision.metric,
            "gate_champion": decision.champion_ref or "none",
        }
    )
    run.log_metrics(
        {"gate/candidate": decision.candidate, "gate/champion": decision.champion, "gate/delta": decision.delta}
    )
    run.log_json(decision, "gate.json")
