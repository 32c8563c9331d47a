"""The gate between a trained candidate and the model registry.

A candidate passes when, on the current test split, its metric (mAP50 by
default) reaches ``min_map50``, its precision and recall at its operating point
(the per-class confidences chosen on the validation split) reach
``min_precision`` and ``min_recall``, and neither its metric nor its recall is
worse than the production model's (the champion's, measured on the same images
at its own operating point) by more than the allowed regression. A candidate
that finds nothing at its operating point (recall 0) never passes, whatever its
mAP50 and whatever the minimums say. Passing candidates are registered as
Approved (``approval: auto``) or pending manual approval; failing ones are not
registered, and their run records each check's figure and verdict.

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
    """The promotion rule, part of the training configuration.

    The defaults are what a line would accept from a first model: it finds at
    least 60 % of the defects at its operating point and at least half of its
    alarms are real; later models may not fall back by more than the allowances.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_map50: float = Field(default=0.5, ge=0, le=1, description="Lowest acceptable value of `metric`.")
    min_precision: float = Field(default=0.5, ge=0, le=1, description="Lowest precision at the operating point.")
    min_recall: float = Field(
        default=0.6, ge=0, le=1, description="Lowest recall at the operating point (recall 0 never passes)."
    )
    max_regression: float = Field(default=0.02, ge=0, le=1, description="How far `metric` may fall below the champion.")
    max_recall_regression: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="How far recall may fall below the champion's, at each one's operating point.",
    )
    metric: str = Field(
        default="mAP50", min_length=1, description="The ranking metric of min_map50 and max_regression."
    )
    approval: Literal["auto", "manual"] = Field(
        default="manual", description="auto: register passing candidates as Approved; manual: as pending."
    )

    @property
    def approval_status(self) -> ApprovalStatus:
        return ApprovalStatus.APPROVED if self.approval == "auto" else ApprovalStatus.PENDING


class GateCheck(BaseModel):
    """One rule of the gate: the figure it read, the bound it compared with, and the verdict."""

    model_config = ConfigDict(frozen=True)

    name: str
    figure: float
    bound: float
    passed: bool
    detail: str


class GateDecision(BaseModel):
    """What the gate decided and why, as recorded on the candidate's run."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    reasons: list[str] = Field(default_factory=list, description="Why it failed (empty when it passed).")
    notes: list[str] = Field(default_factory=list, description="The checks that held.")
    checks: list[GateCheck] = Field(default_factory=list, description="Every check, passed or not.")
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
            hint="set gate.metric to one of the evaluated metrics; precision and recall come from the evaluation",
        )
    return float(metrics[metric])


def _minimum(name: str, value: float, bound: float, what: str) -> GateCheck:
    if not math.isfinite(value):
        return GateCheck(
            name=name,
            figure=value,
            bound=bound,
            passed=False,
            detail=f"{what} is not a number ({value}); the test split may hold no labelled boxes",
        )
    passed = value >= bound - _EPS
    relation = "reaches" if passed else "is below"
    return GateCheck(
        name=name,
        figure=value,
        bound=bound,
        passed=passed,
        detail=f"{what} {value:.4f} {relation} the minimum {bound:.4f}",
    )


def _regression(name: str, value: float, champion: float, allowance: float, what: str) -> GateCheck:
    delta = value - champion
    passed = not delta < -allowance - _EPS
    if passed:
        detail = f"{what} {delta:+.4f} against the production model ({champion:.4f})"
    else:
        detail = (
            f"{what} {value:.4f} is {-delta:.4f} below the production model ({champion:.4f}); "
            f"at most {allowance:.4f} is allowed"
        )
    return GateCheck(name=name, figure=delta, bound=-allowance, passed=passed, detail=detail)


def decide(
    candidate_metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
    config: GateConfig,
    champion_ref: str | None = None,
) -> GateDecision:
    """Apply the gate to a candidate and (if there is one) the champion, measured on the same images.

    Both mappings hold the evaluation's summary: ``config.metric`` (mAP50), and
    ``precision`` and ``recall`` at each model's own operating point.

    Example:
        >>> m = {"precision": 0.9, "recall": 0.8}
        >>> decide({"mAP50": 0.81, **m}, {"mAP50": 0.85, **m}, GateConfig()).reasons
        ['mAP50 0.8100 is 0.0400 below the production model (0.8500); at most 0.0200 is allowed']
    """
    metric = config.metric
    value = _value(candidate_metrics, metric, "candidate")
    precision = _value(candidate_metrics, "precision", "candidate")
    recall = _value(candidate_metrics, "recall", "candidate")
    checks = [
        _minimum("min_metric", value, config.min_map50, metric),
        _minimum("min_precision", precision, config.min_precision, "precision at the operating point"),
        _minimum("min_recall", recall, config.min_recall, "recall at the operating point"),
    ]
    if not recall > 0:
        checks.append(
            GateCheck(
                name="finds_defects",
                figure=recall,
                bound=0.0,
                passed=False,
                detail="the model finds no defect at its operating point (recall 0); it is never a candidate",
            )
        )
    champion = delta = None
    notes: list[str] = []
    if champion_metrics is None:
        notes.append("no production model to compare against")
    else:
        champion = _value(champion_metrics, metric, "champion")
        champion_recall = _value(champion_metrics, "recall", "champion")
        delta = value - champion
        if math.isfinite(delta):
            checks.append(_regression("regression_metric", value, champion, config.max_regression, metric))
        checks.append(
            _regression(
                "regression_recall",
                recall,
                champion_recall,
                config.max_recall_regression,
                "recall at the operating point",
            )
        )
    reasons = [c.detail for c in checks if not c.passed]
    notes = [c.detail for c in checks if c.passed] + notes
    passed = not reasons
    return GateDecision(
        passed=passed,
        reasons=reasons,
        notes=notes,
        checks=checks,
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
    run.set_tags({f"gate_check.{c.name}": "pass" if c.passed else "fail" for c in decision.checks})
    run.log_metrics(
        {"gate/candidate": decision.candidate, "gate/champion": decision.champion, "gate/delta": decision.delta}
        | {f"gate/{c.name}": c.figure for c in decision.checks}
    )
    run.log_json(decision, "gate.json")
