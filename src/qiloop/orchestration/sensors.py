"""The loop's triggers: sensors with cursors and run keys, running from the moment the code location loads.

- ``camera_folder``: new files in the camera folder → ``ingest`` (those files), which in the same
  run opens a labelling job once ``label_job_min_images`` images wait (no second tick, no second
  run between a camera image and its job).
- ``labels_wanted``: images that arrived otherwise (imports, uploads) since the last job reach
  ``label_job_min_images``, or devices sent feedback → ``open_labeling_job`` (pre-labels from the
  production model / the devices). Images a job already took (the ``unlabeled_through`` time the
  labelling job records) do not count again, and while an ingest run is in flight it leaves the
  new images to that run.
- ``labels_approved``: ``retrain_after_labels`` images approved since the last training (whatever
  started it: this sensor, the nightly schedule or a person) → ``training``.
- ``model_approved``: a new production version that passed the gate → ``rollout`` to its group.

A tick reads only what arrived after its cursor (columnar, from the files written
since; see :mod:`qiloop.storage.arrivals`), never a record per image. Every run
request carries a run key derived from the event, so an event seen twice (a
replayed tick, a cursor not yet stored) starts one run. Dagster's sensors are
stopped by default; these are RUNNING by default, or a fresh install never turns.

Intervals: Dagster's daemon looks at its sensors every 5 s at most, so ``camera_folder``
ticks every 5 s (a tick lists one folder's names and times) and ``labels_wanted`` every
10 s (it reads only the Delta files written since its cursor); the training and rollout
triggers, whose runs take minutes, every 30 s.
"""

import hashlib
import json
from datetime import datetime, timezone

import dagster as dg

from qiloop.orchestration.assets_model import CANDIDATE
from qiloop.orchestration.history import latest_metadata
from qiloop.orchestration.jobs import ingest_job, labeling_job_job, rollout_job, training_job, training_request
from qiloop.orchestration.resources import ImageStoreResource, LabelStoreResource, LoopResource, RegistryResource

RUNNING = dg.DefaultSensorStatus.RUNNING
MAX_FILES_PER_RUN = 2000
TRIGGER_TAG = "qiloop/trigger"
IN_FLIGHT = [
    dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]  # fmt: skip


@dg.sensor(
    name="camera_folder", job=ingest_job, minimum_interval_seconds=5, default_status=RUNNING,
    description="New image files in the camera folder start an ingest of those files, which opens a labelling "
    "job in the same run once enough images wait.",
)  # fmt: skip
def camera_folder_sensor(context: dg.SensorEvaluationContext, loop: LoopResource) -> dg.SensorResult:
    from qiloop.storage.camera_folder import FolderCursor, new_files

    settings = loop.loop_settings()
    folder, wanted = settings.camera_folder, settings.label_job_min_images
    found = new_files(folder, FolderCursor.from_json(context.cursor))
    opening = {"labeling_job": {"config": {"sources": ["unlabeled"], "min_images": wanted}}}
    if not found.paths:
        return dg.SensorResult(skip_reason=f"no new file in {folder}")
    requests = []
    for start in range(0, len(found.paths), MAX_FILES_PER_RUN):
        chunk = list(found.paths[start : start + MAX_FILES_PER_RUN])
        key = _digest([found.cursor.mtime_ns, *chunk])
        requests.append(
            dg.RunRequest(
                run_key=f"camera:{key}",
                run_config={"ops": {"new_images": {"config": {"paths": chunk, "source": "camera"}}, **opening}},
                tags={TRIGGER_TAG: "camera_folder", "qiloop/files": str(len(chunk))},
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=found.cursor.to_json())


@dg.sensor(
    name="labels_wanted", job=labeling_job_job, minimum_interval_seconds=10, default_status=RUNNING,
    description="Enough new images waiting for labels, or device feedback, open a labelling job.",
)  # fmt: skip
def labels_wanted_sensor(
    context: dg.SensorEvaluationContext, images: ImageStoreResource, loop: LoopResource
) -> dg.SensorResult:
    from qiloop.storage.arrivals import new_feedback, new_images

    cursor = _load(context.cursor)
    url, options = images.location()
    wanted = loop.loop_settings().label_job_min_images
    fresh = new_images(url, _images_after(context, cursor), options)
    feedback = new_feedback(url, _time(cursor.get("feedback")), options)
    sources = []
    if feedback.count and feedback.newest is not None:
        sources.append("feedback")
        cursor["feedback"] = feedback.newest.isoformat()
    ingesting = fresh.count >= wanted and _ingest_in_flight(context.instance)
    if fresh.count >= wanted and fresh.newest is not None and not ingesting:
        sources.append("unlabeled")
        cursor["images"] = fresh.newest.isoformat()
    if not sources:
        why = "an ingest run in flight opens their job" if ingesting else f"a job opens at {wanted}"
        return dg.SensorResult(skip_reason=f"{fresh.count} new image(s) since the last job ({why}); no device feedback")
    tags = {TRIGGER_TAG: "labels_wanted", "qiloop/new_images": str(fresh.count), "qiloop/feedback": str(feedback.count)}
    request = dg.RunRequest(
        run_key=f"labels:{cursor.get('images', '')}|{cursor.get('feedback', '')}",
        run_config={"ops": {"labeling_job": {"config": {"sources": sources}}}},
        tags=tags,
    )
    return dg.SensorResult(run_requests=[request], cursor=json.dumps(cursor))


@dg.sensor(
    name="labels_approved", job=training_job, minimum_interval_seconds=30, default_status=RUNNING,
    description="retrain_after_labels images approved since the last training start a training run.",
)  # fmt: skip
def labels_approved_sensor(
    context: dg.SensorEvaluationContext, labels: LabelStoreResource, loop: LoopResource
) -> dg.SensorResult:
    from qiloop.labelstore.since import approved_since

    wanted = loop.loop_settings().retrain_after_labels
    approved = approved_since(labels.open(), _last_training(context))
    if approved.images < wanted or approved.newest is None:
        return dg.SensorResult(
            skip_reason=f"{approved.images} image(s) approved since the last training (training starts at {wanted})"
        )
    newest = approved.newest.isoformat()
    tags, run_config = training_request(loop.gpu_training)
    request = dg.RunRequest(
        run_key=f"train:{newest}",
        run_config=run_config,
        tags={**tags, TRIGGER_TAG: "labels_approved", "qiloop/approved": str(approved.images)},
    )
    return dg.SensorResult(run_requests=[request], cursor=newest)


@dg.sensor(
    name="model_approved", job=rollout_job, minimum_interval_seconds=30, default_status=RUNNING,
    description="A newly approved production version that passed the gate rolls out to its device group.",
)  # fmt: skip
def model_approved_sensor(context: dg.SensorEvaluationContext, registry: RegistryResource) -> dg.SensorResult:
    from qiloop.core.errors import QiloopError

    models = registry.open()
    production = None if _nothing_approved(models, registry.model_name) else models.production(registry.model_name)
    if production is None:
        return dg.SensorResult(skip_reason=f"no approved version of {registry.model_name} yet")
    ref = production.ref
    if context.cursor == ref:
        return dg.SensorResult(skip_reason=f"{ref} was already handed to a rollout")
    # Dagster blocks on a failed check only inside one run: this sensor starts a new run, so it looks itself.
    try:
        models.approved(ref)  # qiloop's approval record stands behind it (not an alias moved in MLflow)
    except QiloopError as exc:
        return dg.SensorResult(skip_reason=f"{ref} is not rolled out: {exc}", cursor=ref)
    refused = gate_refusal(context.instance, models, production)
    if refused:
        return dg.SensorResult(skip_reason=f"{ref} is not rolled out: {refused}", cursor=ref)
    request = dg.RunRequest(
        run_key=f"rollout:{ref}",
        run_config={"ops": {"rollout": {"config": {"ref": ref}}}},
        tags={TRIGGER_TAG: "model_approved", "qiloop/model": ref},
    )
    return dg.SensorResult(run_requests=[request], cursor=ref)


def gate_refusal(instance: dg.DagsterInstance, models, version) -> str | None:
    """Why ``version`` must not ship by the gate's record, or None when the gate passed it.

    Both records must agree: the decision on the version's training run in MLflow,
    and Dagster's latest ``gate`` check result on a candidate from that run (when
    the candidate was trained under Dagster).
    """
    if not version.run_id:
        return "it has no training run, so no gate decision"
    tags = models.run(version.run_id).tags()
    if tags.get("gate_passed") != "true":
        return f"its training run {version.run_id} did not pass the gate: {tags.get('gate_reasons', 'no decision')}"
    check = latest_gate_result(instance, version.run_id)
    if check is not None and not check:
        return f"Dagster's gate check failed on the candidate of run {version.run_id}"
    return None


def latest_gate_result(instance: dg.DagsterInstance, run_id: str) -> bool | None:
    """Whether the latest ``gate`` check on the candidate of MLflow run ``run_id`` passed (None: not found)."""
    key = dg.AssetCheckKey(dg.AssetKey(CANDIDATE), "gate")
    for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=50):
        evaluation = record.evaluation  # None, or a planned check's event without a verdict, until it ran
        if evaluation is None or not hasattr(evaluation, "passed"):
            continue
        recorded = evaluation.metadata.get("run_id")
        if recorded is not None and getattr(recorded, "value", recorded) == run_id:
            return bool(evaluation.passed)
    return None


def _last_training(context: dg.SensorEvaluationContext) -> datetime | None:
    """The later of the cursor and when the last trained candidate read its labels (a nightly or manual run)."""
    cursor = _time(context.cursor)
    read_at = latest_metadata(context.instance, CANDIDATE).get("labels_read_at")
    if not isinstance(read_at, int | float):
        return cursor
    trained = datetime.fromtimestamp(float(read_at), tz=timezone.utc)
    return trained if cursor is None or trained > cursor else cursor


def _nothing_approved(models, name: str) -> bool:
    """Whether qiloop's approval ledger holds no standing approval of ``name``: then MLflow need not be asked.

    Asking MLflow imports it (seconds, in the process that evaluates every sensor) each time that process starts.
    """
    from qiloop.core.errors import ConfigurationError

    try:
        return models.ledger.standing(name) is None
    except ConfigurationError:  # a registry without the ledger: MLflow decides
        return False


def _images_after(context: dg.SensorEvaluationContext, cursor: dict) -> datetime | None:
    """The later of the cursor and when the last job over unlabelled images chose them (e.g. in an ingest run)."""
    after = _time(cursor.get("images"))
    chosen = latest_metadata(context.instance, "labeling_job").get("unlabeled_through")
    if not isinstance(chosen, int | float):
        return after
    taken = datetime.fromtimestamp(float(chosen), tz=timezone.utc)
    return taken if after is None or taken > after else after


def _ingest_in_flight(instance: dg.DagsterInstance) -> bool:
    """Whether an ingest run started by the camera trigger is queued or running (it opens its own job)."""
    runs = instance.get_run_ids(dg.RunsFilter(statuses=IN_FLIGHT, tags={TRIGGER_TAG: "camera_folder"}), limit=1)
    return bool(runs)


def _load(cursor: str | None) -> dict:
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _digest(parts: list) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


SENSORS = [camera_folder_sensor, labels_wanted_sensor, labels_approved_sensor, model_approved_sensor]
