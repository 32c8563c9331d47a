"""Schedules: a nightly retrain when the labels changed, and the nightly Delta upkeep (both UTC)."""

import dagster as dg

from qiloop.orchestration.assets_model import CANDIDATE
from qiloop.orchestration.history import latest_metadata
from qiloop.orchestration.jobs import delta_upkeep, training_job, training_request
from qiloop.orchestration.resources import LabelStoreResource, LoopResource

RUNNING = dg.DefaultScheduleStatus.RUNNING


@dg.schedule(
    name="nightly_retrain", job=training_job, cron_schedule="0 2 * * *", execution_timezone="UTC",
    default_status=RUNNING, description="At 02:00 UTC, train again when labels were written since the last training.",
)  # fmt: skip
def nightly_retrain(context: dg.ScheduleEvaluationContext, labels: LabelStoreResource, loop: LoopResource):
    store = labels.open()
    current = store.version()
    if current is None:
        return dg.SkipReason("the label store is empty")
    last = latest_metadata(context.instance, CANDIDATE).get("label_store_version")
    changed = labels_written_after(store, None if last is None else int(last))
    if not changed:
        return dg.SkipReason(f"no label written since the last training (label store version {int(last)})")
    tags, run_config = training_request(loop.gpu_training)
    return dg.RunRequest(
        run_key=f"nightly:{current}", run_config=run_config, tags={**tags, "qiloop/trigger": "nightly_retrain"}
    )


def labels_written_after(store, version: int | None) -> int:
    """Rows written by appends after label-store ``version`` (compactions write none); all rows when None."""
    return sum(v.rows_added for v in store.versions() if version is None or v.version > version)


delta_upkeep_nightly = dg.ScheduleDefinition(
    name="delta_upkeep_nightly",
    job=delta_upkeep,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=RUNNING,
    description="At 03:30 UTC, compact the image index, feedback log and label store (vacuum all but the label store).",
)

SCHEDULES = [nightly_retrain, delta_upkeep_nightly]
