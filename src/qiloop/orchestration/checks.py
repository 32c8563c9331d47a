"""The gate as Dagster's blocking asset check on the trained candidate.

The training step applies the gate (``qiloop.training.gate``) and records its
decision on the candidate's MLflow run. This check reads that record back and
reports it to Dagster: passed, or failed with every reason. Blocking, with
severity ERROR, so in the same run the version and rollout steps are skipped
when it fails; across runs ``model_version``'s automation condition and the
rollout sensor look at the recorded result themselves.

It emits a result on every path: a check that emits nothing blocks nothing, so
a missing candidate, an unreadable run or any other error is a failed check
that says what went wrong.
"""

import dagster as dg

from qiloop.orchestration.assets_model import CANDIDATE
from qiloop.orchestration.history import latest_metadata
from qiloop.orchestration.resources import RegistryResource

GATE = "gate"


@dg.asset_check(
    asset=CANDIDATE,
    name=GATE,
    blocking=True,
    description="The candidate passed the gate (minimums at its operating point, no regression against "
    "production on the same test images), as recorded on its MLflow run.",
)
def gate(context: dg.AssetCheckExecutionContext, registry: RegistryResource) -> dg.AssetCheckResult:
    try:
        return _read_gate(latest_metadata(context.instance, CANDIDATE), registry)
    except Exception as exc:
        context.log.exception("the gate's decision could not be read")
        return _failed(f"the gate's decision could not be read: {type(exc).__name__}: {exc}")


def _read_gate(candidate: dict, registry: RegistryResource) -> dg.AssetCheckResult:
    run_id = candidate.get("run_id")
    if not run_id:
        return _failed("no trained candidate is recorded: train one first")
    tags = registry.open().run(str(run_id)).tags()
    recorded = tags.get("gate_passed")
    if recorded not in ("true", "false"):
        return _failed(f"the candidate's run {run_id} holds no gate decision (gate_passed={recorded!r})")
    passed = recorded == "true"
    if passed != bool(candidate.get("gate/passed")):
        return _failed(f"the candidate's metadata and its run {run_id} disagree on the gate; train again")
    checks = {k.removeprefix("gate_check."): v == "pass" for k, v in tags.items() if k.startswith("gate_check.")}
    metric, reasons = str(candidate.get("gate_metric", "mAP50")), tags.get("gate_reasons", "")
    metadata = {
        "run_id": str(run_id),
        f"candidate/{metric}": float(candidate.get(f"test/{metric}", float("nan"))),
        "candidate/recall": float(candidate.get("test/recall", float("nan"))),
        "checks_failed": sum(not ok for ok in checks.values()),
        **{f"check/{name}": int(ok) for name, ok in sorted(checks.items())},
        "reasons": reasons,
    }
    if f"champion/{metric}" in candidate:
        metadata[f"champion/{metric}"] = float(candidate[f"champion/{metric}"])
    description = reasons if passed else f"refused: {reasons}"
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.ERROR, description=description[:2000], metadata=metadata
    )


def _failed(why: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.ERROR, description=why, metadata={"reasons": why}
    )
