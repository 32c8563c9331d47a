"""One turn of the loop started by the orchestration's triggers, in this process, with the simulated workforce and line.

What the Dagster daemon would do, done here a step at a time on a persistent
instance (:class:`qiloop.orchestration.inprocess.LocalLoop`): the ``labels_wanted``
trigger opens a labelling job for what waits (unlabelled images, or the feedback
the line sent back); the bots label it; the ``labels_approved`` trigger starts a
training run (snapshot → dataset and candidate → the blocking gate → the version,
approved by the loop's promotion rule); the ``model_approved`` trigger rolls the new
production version out to the line, which then inspects new camera images. Each
step records the trigger that started it (sensor, run key, run id) or why it
started nothing; a trigger that starts nothing ends the turn there.

:class:`OrchestratedTurns` is a :data:`~qiloop.sim.turn.TurnRunner`: what ``qiloop demo`` runs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qiloop.core.errors import QiloopError
from qiloop.loop.approve import Approved, Promotion
from qiloop.loop.labeling_job import OpenedJob
from qiloop.loop.train import GateCheckFigure, TrainedCandidate
from qiloop.sim.turn import Clock, Trigger, TurnPlan, TurnReport, World

GOLD_EVERY = 2  # every other task of a bot is a gold image, as in the direct turn
APPROVER = "qiloop orchestration (promotion rule)"
_HINT = "see the run's log above, or in Dagster's UI (dagster dev, DAGSTER_HOME=<home>/dagster)"


class OrchestratedTurns:
    """Turns of the loop whose steps the orchestration's triggers start (a :data:`~qiloop.sim.turn.TurnRunner`).

    The rollout policy and how long a rollout is waited for are the loop's resources (set when it is
    built, see :meth:`for_line`); a plan's ``policy`` and ``on_epoch`` are not used (training logs its
    epochs to Dagster's log).

    Args:
        loop: A :class:`~qiloop.orchestration.inprocess.LocalLoop` over the world's home.
    """

    def __init__(self, loop) -> None:
        self.loop = loop
        self._say: Any = lambda _text: None

    def close(self) -> None:
        """Release the Dagster instance (its runs and cursors stay in the home)."""
        self.loop.instance.dispose()

    def log(self, step: str, message: str) -> None:
        """A line a step of a run logged, said as the turn's progress (``step: train`` as ``· train``)."""
        self._say(f"· {message.removeprefix('step: ')}" if message.startswith("step: ") else f"  {message}")

    @classmethod
    def for_line(
        cls, settings, line, *, policy=None, retrain_after_labels: int | None = None, rollout_wait_s: float = 300.0,
        log_level: str | None = "INFO", instance=None,
    ) -> OrchestratedTurns:  # fmt: skip
        """Triggers over ``settings``' home that roll out to ``line``'s group and wait for the outcome.

        Args:
            settings: The home's settings.
            line: The started :class:`~qiloop.sim.devices.SimulatedLine`.
            policy: The :class:`~qiloop.core.deployments.RolloutPolicy` (default: the fleet resource's).
            retrain_after_labels: Newly approved labels that start a training run (default: the settings').
            rollout_wait_s: How long the rollout step waits for the line's outcome.
            log_level: The runs' log level; their steps' lines are said as the turn's progress (``ERROR``: few).
            instance: The Dagster instance (default: ``<home>/dagster``, persistent).

        Raises:
            MissingDependencyError: The ``orchestrate`` extra is not installed.
        """
        from qiloop.core.errors import require

        require("dagster", "orchestrate")
        from qiloop.orchestration.inprocess import LocalLoop

        fleet: dict[str, Any] = {"group": line.group, "wait_s": rollout_wait_s}
        if policy is not None:
            fleet |= {"canary": policy.canary, "soak_s": policy.soak_s, "health_timeout_s": policy.health_timeout_s}
        knobs = {} if retrain_after_labels is None else {"retrain_after_labels": retrain_after_labels}
        turns = cls(None)
        turns.loop = LocalLoop(settings, instance, log_level=log_level, on_log=turns.log, fleet=fleet, loop=knobs)
        return turns

    def __call__(self, world: World, plan: TurnPlan) -> TurnReport:
        """Run one turn: each step is a run a trigger started, the bots and the line doing their part between."""
        from qiloop.loop.collect import collect_results
        from qiloop.loop.publish import publish_approved_labels
        from qiloop.sim.workforce import add_gold_images, work_job

        report = TurnReport(plan.number, plan.source)
        clock = Clock(report.seconds)
        self._say = world.say
        with clock("label"):
            add_gold_images(world.db, world.labels)
            gold = {"ops": {"labeling_job": {"config": {"gold_every": GOLD_EVERY}}}}
            runs = self._tick(world, report, "label", "labels_wanted", gold)
            for run in runs:
                if not run.success:
                    raise QiloopError(f"labelling run {run.run_id} failed: {run.failure}", hint=_HINT)
                for name in _job_names(run):
                    world.say(f"labelling job {name}: bots at work")
                    labelled = work_job(world.settings, world.images, world.labels, name, seed=plan.seed)
                    if report.labelled is None:
                        report.opened, report.labelled = _opened(world.db, name, run), labelled
        publish_approved_labels(world.db, world.labels)

        name = plan.config.name
        before = world.registry.production(name)
        with clock("train"):
            runs = self._tick(world, report, "train", "labels_approved", training_run_config(plan))
        if runs:
            self._trained(world, report, runs[0], before.ref if before is not None else None)
            with clock("deploy"):
                runs = self._tick(world, report, "deploy", "model_approved")
            report.rollout = _rollout(world, runs[0]) if runs else None
            if report.rollout is not None:
                ref = runs[0].tags.get("qiloop/model", "")
                world.say(f"canary rollout of {ref} to {world.line.group}: {report.rollout.phase}")
        production = world.registry.production(name)
        report.production = production.ref if production is not None else None
        if report.candidate is None:  # the trigger did not train: the turn ends here
            return report

        if report.production is not None and plan.camera:
            with clock("inspect"):
                since = datetime.now(timezone.utc)
                world.say(f"the line inspects {len(plan.camera)} new camera images with {report.production}")
                world.line.inspect(plan.camera)
                report.collected = collect_results(world.line.results_db(), world.images, world.labels, since=since)
        return report

    def _tick(self, world: World, report: TurnReport, step: str, sensor: str, run_config=None) -> list:
        """Evaluate one trigger; record and say which runs it started (failed ones too), or why it started none."""
        tick = self.loop.evaluate(sensor, run_config)
        if not tick.runs:
            why = tick.skip_reason or (f"run key {tick.replayed[0]} already ran" if tick.replayed else "nothing new")
            report.triggers.append(Trigger(step, sensor, seconds=tick.seconds, dagster_s=tick.seconds, detail=why))
            world.say(f"trigger {sensor}: no run — {why}")
            return []
        for i, run in enumerate(tick.runs):
            # Dagster fails a run whose blocking check failed: the gate refusing is the run doing its work.
            gated = not run.success and run.gate_passed is False
            done = run.success or gated
            detail = "the gate refused the candidate: version and rollout skipped" if gated else run.failure
            # A failed run's steps report no seconds: its time is not counted as Dagster's.
            own = max(0.0, run.seconds - run.step_seconds) if done else 0.0
            overhead = own + (tick.seconds if i == 0 else 0.0)
            report.triggers.append(
                Trigger(step, sensor, run.run_key, run.job, run.run_id, done, run.seconds, overhead, detail)
            )
            outcome = "stopped by the gate" if gated else ("succeeded" if run.success else "FAILED")
            world.say(
                f"trigger {sensor} (run key {run.run_key}) started run {run.run_id[:8]} of job {run.job}: "
                f"{outcome} in {run.seconds:.1f} s"
            )
        return list(tick.runs)

    @staticmethod
    def _trained(world: World, report: TurnReport, run, previous: str | None) -> None:
        """The training run's candidate, the promotion rule's verdict and the approval, from what it recorded."""
        if "trained_candidate" not in run.materialized:
            why = run.failure or "no reason recorded"
            raise QiloopError(f"training run {run.run_id} trained no candidate: {why}", hint=_HINT)
        report.candidate = candidate_of(run.materialized["trained_candidate"], run.materialized.get("training_dataset"))
        version = run.materialized.get("model_version")
        if version is None:  # the blocking gate skipped the version step
            why = "; ".join(report.candidate.reasons) or "it was not registered"
            report.promotion = Promotion(False, f"the gate refused it: {why}")
            return
        report.promotion = Promotion(bool(version.get("approved")), str(version.get("reason", "")))
        if report.promotion.promote:
            production = world.registry.production(report.candidate.version.split("/")[0])
            report.approved = Approved(
                version=str(version["ref"]),
                production=production.ref if production is not None else None,
                previous_production=previous,
                actor=APPROVER,
            )


def training_run_config(plan: TurnPlan) -> dict[str, Any]:
    """Run config of the training run a trigger starts for ``plan``: its training, its gate, the promotion rule.

    The gate's bars travel as ``gate.*`` overrides; the candidate is registered pending approval and the
    version step approves it by the loop's promotion rule (``approval: auto``), as the direct turn does.
    """
    gate = [f"gate.{k}={v}" for k, v in plan.gate.model_dump(mode="json").items() if k != "approval"]
    train: dict[str, Any] = {"overrides": [*plan.overrides, *gate]}
    if plan.profile:
        train["profile"] = plan.profile
    if plan.start_from is not None:
        train["start_from"] = str(plan.start_from)
    return {"ops": {"train": {"config": train}, "model_version": {"config": {"approval": "auto"}}}}


def candidate_of(figures: dict[str, Any], dataset: dict[str, Any] | None = None) -> TrainedCandidate:
    """A :class:`~qiloop.loop.train.TrainedCandidate` from the ``trained_candidate`` materialisation's metadata."""
    from qiloop.core.models import ApprovalStatus

    def prefixed(prefix: str) -> dict[str, float]:
        return {k.removeprefix(prefix): float(v) for k, v in figures.items() if k.startswith(prefix)}

    registered = str(figures.get("registered") or "") or None
    checks = tuple(GateCheckFigure(**c) for c in figures.get("gate_checks") or ())
    version = figures.get("label_store_version")
    return TrainedCandidate(
        run_id=str(figures["run_id"]),
        passed=bool(figures.get("gate/passed")),
        version=registered,
        approval=ApprovalStatus.PENDING.value if registered else None,
        label_store_version=None if version is None else int(version),
        dataset=str((dataset or {}).get("fingerprint", "")),
        splits={k: int(v) for k, v in prefixed("split/").items()},
        metrics=prefixed("test/"),
        int8_metrics=prefixed("test_int8/"),
        operating_confidence=prefixed("operating_confidence/"),
        champion=str(figures.get("champion") or "") or None,
        champion_metrics=prefixed("champion/"),
        checks=checks,
        reasons=tuple(r for r in str(figures.get("reasons", "")).split("; ") if r),
        epochs=int(figures.get("epochs", 0)),
        started_from=str(figures.get("started_from", "")),
        weights=Path(str(figures.get("weights", ""))),
        package=Path(str(figures.get("package", ""))),
        package_bytes={k: int(v) for k, v in prefixed("bytes/").items()},
        parity=str(figures.get("parity", "")),
        seconds=float(figures.get("seconds", 0.0)),
    )


def _job_names(run) -> list[str]:
    names = str(run.figure("labeling_job", "job_names", "none"))
    return [] if names == "none" else [n.strip() for n in names.split(",") if n.strip()]


def _opened(db, name: str, run) -> OpenedJob:
    """The job as opened: its images and pre-labels from the labelling database, counts from the run."""
    from qiloop.labeling import jobs

    with db.session() as session:
        job = jobs.get_job(session, name)
        images, prelabel_source = jobs.summary(session, job).images, job.prelabel_source
    figures = run.materialized.get("labeling_job", {})
    return OpenedJob(
        name=name,
        source="feedback" if name.startswith("feedback") else "unlabeled",
        images=images,
        prelabel_source=prelabel_source,
        prelabelled=int(figures.get("prelabelled", 0)),
        prelabel_boxes=int(figures.get("prelabel_boxes", 0)),
    )


def _rollout(world: World, run):
    """The rollout's outcome as the fleet recorded it: the run's metadata names it, a failed run's message too."""
    from qiloop.loop.deploy import outcome_of

    db = world.line.controller.db
    rollout_id = run.figure("rollout", "rollout_id")
    if rollout_id:
        return outcome_of(db.rollout(str(rollout_id)), float(run.figure("rollout", "seconds", run.seconds)))
    newest = next(iter(db.rollouts(limit=1)), None)
    if run.success or newest is None or newest.id not in run.failure:
        raise QiloopError(f"rollout run {run.run_id} recorded no rollout: {run.failure or 'nothing to roll out'}",
                          hint=_HINT)  # fmt: skip
    return outcome_of(newest, run.seconds)
