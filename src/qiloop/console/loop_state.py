"""The loop's state at each stage, as the Loop page and ``/metrics`` show it.

Counts come from cheap queries on each store: a SQL count per labelling table,
the image index held in memory, the latest label per image (cached per
label-store version), the registry's versions of one model, the fleet's device
table. The whole state is kept a few seconds so page refreshes and scrapes do
not redo it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
from sqlalchemy import func, select

from qiloop.console.render import when
from qiloop.console.sources import ConsoleSources
from qiloop.core.errors import NotFoundError
from qiloop.labeling.jobs import JobState, queued_sha256s
from qiloop.labeling.models import ItemState, Job, JobItem, Task, TaskState

INFERENCE_COMPONENT = "qiloop-inference"  # the code component; every other running component is a model
KEEP_S = 5.0


@dataclass(frozen=True)
class LoopState:
    """What waits at each stage of the loop, and what runs now."""

    images: int
    approved_images: int
    waiting_for_labels: int
    in_jobs: int
    jobs_open: int
    tasks_leased: int
    approved_since_training: int  # approved labels the newest trained version did not train on
    last_training: str | None
    last_training_at: datetime | None
    model_name: str
    candidates: int
    production: str | None
    versions: int
    devices: int
    devices_online: int
    devices_by_version: dict[str, int]
    feedback_waiting: int
    alerts_open: int
    label_store_version: int | None
    running: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # part → how to start it


def loop_state(sources: ConsoleSources, model_name: str) -> LoopState:
    """The loop's state now (kept :data:`KEEP_S` seconds)."""
    return sources.for_seconds(f"loop:{model_name}", KEEP_S, lambda: _compute(sources, model_name))


def _compute(sources: ConsoleSources, model_name: str) -> LoopState:
    running: list[str] = []
    missing: dict[str, str] = {}
    labels = sources.latest_labels()
    approved = labels.filter(pl.col("status") == "APPROVED")
    images = sources.image_rows()
    with sources.db.session() as session:
        queued = queued_sha256s(session)
        in_jobs = session.scalar(
            select(func.count(JobItem.id))
            .join(Job, Job.id == JobItem.job_id)
            .where(JobItem.state != ItemState.APPROVED.value, Job.state != JobState.CANCELLED.value)
        )
        jobs_open = session.scalar(select(func.count(Job.id)).where(Job.state == JobState.OPEN.value))
        leased = session.scalar(select(func.count(Task.id)).where(Task.state == TaskState.ASSIGNED.value))
    queued_frame = pl.DataFrame({"image_sha256": list(queued)}, schema={"image_sha256": pl.String})
    taken = pl.concat([approved.select("image_sha256"), queued_frame])
    waiting = images.select("sha256").join(taken, left_on="sha256", right_on="image_sha256", how="anti").height
    if leased:
        running.append(f"labelling: {leased} task(s) leased to labellers")

    models = _models(sources, model_name, missing)
    running += _training(sources, model_name)
    last = models["last"]
    since = approved
    if last is not None:
        try:
            trained_on = sources.approved_ids_at(last.label_store_version)
        except NotFoundError:  # trained on another label store: every approved label is new to it
            trained_on = pl.Series("record_id", [], dtype=pl.String)
        since = approved.join(trained_on.to_frame("record_id"), on="record_id", how="anti")
    fleet = _fleet(sources, running, missing)
    feedback = _feedback_waiting(sources, set(approved["image_sha256"].to_list()) | queued)
    return LoopState(
        images=images.height,
        approved_images=approved.height,
        waiting_for_labels=waiting,
        in_jobs=int(in_jobs or 0),
        jobs_open=int(jobs_open or 0),
        tasks_leased=int(leased or 0),
        approved_since_training=since.height,
        last_training=None if last is None else last.ref,
        last_training_at=None if last is None else last.created_at,
        model_name=model_name,
        candidates=models["candidates"],
        production=models["production"],
        versions=models["versions"],
        devices=fleet["devices"],
        devices_online=fleet["online"],
        devices_by_version=fleet["by_version"],
        feedback_waiting=feedback,
        alerts_open=len(sources.alerts().list(open_only=True, limit=0)) if sources.alerts() is not None else 0,
        label_store_version=sources.labels.version(),
        running=running,
        missing=missing,
    )


def _models(sources: ConsoleSources, name: str, missing: dict[str, str]) -> dict:
    registry = sources.registry()
    out = {"last": None, "candidates": 0, "production": None, "versions": 0}
    if registry is None:
        missing["registry"] = "train a model: qiloop train"
        return out
    from qiloop.core.models import ApprovalStatus

    try:
        versions = registry.versions(name)
    except NotFoundError:
        missing["registry"] = f"no model {name!r} registered yet: qiloop train"
        return out
    out["versions"] = len(versions)
    out["last"] = max((v for v in versions if v.label_store_version is not None), key=lambda v: v.version, default=None)
    out["candidates"] = sum(1 for v in versions if v.approval == ApprovalStatus.PENDING)
    out["production"] = next((v.ref for v in versions if v.is_production), None)
    return out


def _training(sources: ConsoleSources, name: str) -> list[str]:
    """Training runs of ``name``'s experiment that MLflow records as running (a crashed one stays so: see its age)."""
    registry = sources.registry()
    if registry is None:
        return []
    experiment = registry.client.get_experiment_by_name(name)  # read only: never creates the experiment
    if experiment is None:
        return []
    runs = registry.client.search_runs(
        [experiment.experiment_id],
        "attributes.status = 'RUNNING'",
        max_results=5,
        order_by=["attributes.start_time DESC"],
    )
    return [f"training run {r.info.run_id[:8]} of {name}, started {when(r.info.start_time / 1000)}" for r in runs]


def _fleet(sources: ConsoleSources, running: list[str], missing: dict[str, str]) -> dict:
    db = sources.fleet()
    out = {"devices": 0, "online": 0, "by_version": {}}
    if db is None:
        missing["fleet"] = "start the fleet: qiloop fleet serve"
        return out
    devices = db.devices()
    presence = sources.presence()
    by_version: dict[str, int] = {}
    for device in devices:
        models = [f"{n} {v}" for n, v in sorted(device.running.items()) if n != INFERENCE_COMPONENT]
        for model in models or ["no model"]:
            by_version[model] = by_version.get(model, 0) + 1
    out["devices"] = len(devices)
    out["online"] = sum(1 for p in presence.values() if p.online)
    out["by_version"] = dict(sorted(by_version.items()))
    for rollout in db.rollouts(active=True):
        what = ", ".join(f"{c.name} {c.version}" for c in rollout.components)
        running.append(f"rollout {rollout.id[:8]} of {what} to {rollout.target}: {rollout.phase.value}")
    for controller in db.controllers():
        running.append(f"fleet controller {controller['name']} (pid {controller['pid']})")
    return out


def _feedback_waiting(sources: ConsoleSources, taken: set[str]) -> int:
    return len(sources.feedback_images() - taken)
