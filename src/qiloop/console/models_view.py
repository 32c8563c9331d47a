"""What the Models page shows: versions over time with their figures, the gate's decision, lineage, approvals.

Approving and rejecting go through :meth:`ModelRegistry.approve` / ``reject``,
the calls ``qiloop models approve`` and ``reject`` make, so the console's
decisions land in the same approval ledger, with the console user as actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qiloop.console.charts import Chart, Series, line_chart

CHART_METRICS = ("mAP50", "recall")


@dataclass(frozen=True)
class VersionRow:
    """One version as the table shows it; ``decision`` is its newest entry in the approval ledger."""

    version: Any  # ModelVersion
    decision: Any | None  # ApprovalRecord

    @property
    def figures(self) -> dict[str, float | None]:
        m = self.version.metrics
        return {k: m.get(k) for k in ("mAP50", "mAP50-95", "precision", "recall")}


def version_rows(registry, name: str) -> list[VersionRow]:
    """Every version of ``name``, newest first, each with its last recorded decision."""
    decisions = registry.ledger.latest(name)
    return [VersionRow(v, decisions.get(v.version)) for v in reversed(registry.versions(name))]


def metrics_chart(rows: list[VersionRow]) -> Chart:
    """mAP50 and recall at the operating point of each version, in registration order (0..1).

    Versions are evenly spaced (a retraining a minute after another is as far
    from it as one a month later); each point's tooltip gives its date.
    """
    ordered = sorted(rows, key=lambda r: r.version.version)
    dates = {float(r.version.version): r.version.created_at.strftime("%Y-%m-%d") for r in ordered}
    series = [
        Series(metric, [(float(r.version.version), r.version.metrics.get(metric)) for r in ordered])
        for metric in CHART_METRICS
    ]
    step = max(1, len(ordered) // 12)  # at most about a dozen labels
    return line_chart(
        series,
        title="Test mAP50 and recall at the operating point, per version",
        y_min=0.0,
        y_max=1.0,
        x_format=lambda x: f"v{x:g}" + (f" ({dates[x]})" if x in dates and len(ordered) <= 4 else ""),
        y_format=lambda y: f"{y:.2f}",
        x_at=[float(r.version.version) for r in ordered[::step]],
    )


@dataclass(frozen=True)
class GateView:
    """The gate's decision as training recorded it on the candidate's run."""

    passed: bool | None
    reasons: str
    metric: str
    champion: str
    checks: list[dict]  # name, passed, figure
    params: dict[str, str]


def gate_view(registry, version) -> GateView | None:
    """The gate's tags, figures and the training parameters of ``version``'s run (None: no run on record)."""
    from qiloop.core.errors import QiloopError

    if not version.run_id:
        return None
    try:
        run = registry.run(version.run_id)
        tags, metrics, params = run.tags(), run.metrics(), run.params()
    except QiloopError:
        return None
    checks = [
        {"name": key.removeprefix("gate_check."), "passed": value == "pass",
         "figure": metrics.get(f"gate/{key.removeprefix('gate_check.')}")}
        for key, value in sorted(tags.items()) if key.startswith("gate_check.")
    ]  # fmt: skip
    passed = {"true": True, "false": False}.get(tags.get("gate_passed", ""))
    keep = {k: v for k, v in sorted(params.items()) if not k.startswith("gate")}
    return GateView(
        passed=passed,
        reasons=tags.get("gate_reasons", ""),
        metric=tags.get("gate_metric", ""),
        champion=tags.get("gate_champion", ""),
        checks=checks,
        params=dict(list(keep.items())[:40]),
    )


def decide(registry, name: str, version: int, decision: str, reason: str, actor: str):
    """Approve or reject ``name/version`` on record, as ``actor``; the same call as the CLI's.

    Raises:
        ConfigurationError: An unknown decision, or a rejection without a reason.
        NotFoundError: No such version.
    """
    from qiloop.core.errors import ConfigurationError

    ref = f"{name}/{version}"
    text = reason.strip() or None
    if decision == "approve":
        return registry.approve(ref, text, actor=actor)
    if decision == "reject":
        return registry.reject(ref, text or "", actor=actor)
    raise ConfigurationError(f"unknown decision {decision!r}", hint="approve or reject")
