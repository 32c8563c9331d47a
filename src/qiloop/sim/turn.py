"""One turn of the loop with a simulated workforce and production line, over the use cases in ``qiloop.loop``.

A turn: open a labelling job for what waits (unlabelled images, or the feedback
devices sent back, pre-labelled) → bots label and verify it → publish → train a
candidate from the label store as it is now (optionally fine-tuning the last
turn's weights) → the gate, on the same test images as production → approve
only when the promotion rule says so → canary rollout to the line and wait →
the line inspects new camera images → collect results and feedback.

:func:`run_turn` is one implementation of :data:`TurnRunner`: it calls the use
cases one after the other. :class:`qiloop.sim.turn_orchestrated.OrchestratedTurns`
is the other, what ``qiloop demo`` runs: the orchestration's triggers start each step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qiloop.loop.approve import Approved, Promotion
from qiloop.loop.collect import Collected
from qiloop.loop.deploy import RolloutOutcome
from qiloop.loop.labeling_job import OpenedJob, Source
from qiloop.loop.train import TrainedCandidate
from qiloop.sim.workforce import BotLabeling


@dataclass
class World:
    """What every turn works on: the home's stores, registry and labelling database, and the line."""

    settings: Any
    images: Any
    labels: Any
    registry: Any
    db: Any
    line: Any  # a started qiloop.sim.devices.SimulatedLine
    say: Callable[[str], None] = lambda _text: None  # one line of progress


@dataclass(frozen=True)
class TurnPlan:
    """What one turn does: where its labels come from, how it trains, and what the line inspects after.

    ``config`` is the resolved training configuration; ``profile`` and ``overrides`` are what it was
    resolved from, which the orchestration's training run takes as run config (see :meth:`resolve`).
    """

    number: int
    source: Source
    config: Any  # TrainConfig
    gate: Any  # GateConfig
    camera: Sequence[Path]  # new images the line inspects once the turn's model is deployed
    start_from: Path | None = None  # weights to fine-tune (the last turn's)
    seed: int = 0
    policy: Any = None  # RolloutPolicy
    on_epoch: Callable[[dict], None] | None = None
    profile: str | None = None
    overrides: tuple[str, ...] = ()

    @classmethod
    def resolve(
        cls, number: int, source: Source, *, profile: str, overrides: Sequence[str] = (), **fields: Any
    ) -> TurnPlan:
        """A plan whose training configuration is ``profile`` with ``overrides`` (``epochs=3``)."""
        from qiloop.training.config import TrainConfig

        config = TrainConfig.resolve(profile=profile, overrides=list(overrides))
        return cls(number, source, config, profile=profile, overrides=tuple(overrides), **fields)


@dataclass(frozen=True)
class Trigger:
    """What started a step of a turn: a trigger (sensor) and the run it started, or why it started none.

    Attributes:
        step: The turn's step (``label``, ``train``, ``deploy``).
        sensor: The trigger's name.
        run_key: The run key of the event it saw (None when it started no run).
        job: The job it ran.
        run_id: The run's id.
        success: Whether the run succeeded (True when no run was started).
        seconds: The run's wall-clock seconds; ``dagster_s`` of them were Dagster's (tick and run overhead).
        detail: Why it started nothing, or how the run failed.
    """

    step: str
    sensor: str
    run_key: str | None = None
    job: str | None = None
    run_id: str | None = None
    success: bool = True
    seconds: float = 0.0
    dagster_s: float = 0.0
    detail: str = ""

    @property
    def started(self) -> bool:
        return self.run_id is not None


@dataclass
class TurnReport:
    """What happened in one turn, step by step; a step that did not run is None."""

    number: int
    source: Source
    opened: OpenedJob | None = None
    labelled: BotLabeling | None = None
    candidate: TrainedCandidate | None = None
    promotion: Promotion | None = None
    approved: Approved | None = None
    rollout: RolloutOutcome | None = None
    collected: Collected | None = None
    production: str | None = None  # the registry's production version at the end of the turn
    seconds: dict[str, float] = field(default_factory=dict)
    triggers: list[Trigger] = field(default_factory=list)  # what started each step (orchestrated turns)

    @property
    def deployed(self) -> str | None:
        """The version this turn rolled out to the line, if any."""
        return self.approved.version if self.rollout is not None and self.rollout.succeeded else None


TurnRunner = Callable[[World, TurnPlan], TurnReport]


def run_turn(world: World, plan: TurnPlan) -> TurnReport:
    """One turn of the loop, calling the ``qiloop.loop`` use cases one after the other."""
    from qiloop.loop.approve import approve_version, promotion
    from qiloop.loop.collect import collect_results
    from qiloop.loop.deploy import deploy_and_wait
    from qiloop.loop.labeling_job import open_labeling_job, waiting_images
    from qiloop.loop.publish import publish_approved_labels
    from qiloop.loop.train import train_candidate
    from qiloop.sim.workforce import add_gold_images, work_job

    report = TurnReport(plan.number, plan.source)
    clock = Clock(report.seconds)
    s, say = world.settings, world.say

    with clock("label"):
        waiting, _ = waiting_images(world.db, world.images, world.labels, plan.source)
        add_gold_images(world.db, world.labels, avoid=waiting)
        name = f"turn{plan.number}-{plan.source}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
        report.opened = open_labeling_job(
            world.db, world.images, world.labels, classes=s.classes, source=plan.source, name=name,
            registry=world.registry, gold_every=2,
        )  # fmt: skip
        if report.opened is None:
            say(f"no {plan.source} image waits for a label")
        else:
            say(f"labelling job {report.opened.name}: {report.opened.images} images, bots at work")
            report.labelled = work_job(s, world.images, world.labels, report.opened.name, seed=plan.seed)
    publish_approved_labels(world.db, world.labels)
    if report.labelled is None and plan.source == "feedback":
        say("no new labels: nothing to retrain on")
        return report

    with clock("train"):
        epochs = f"{plan.config.epochs} epoch" + ("" if plan.config.epochs == 1 else "s")
        say(f"training from {plan.start_from or plan.config.model} ({epochs})")
        report.candidate = train_candidate(
            plan.config, plan.gate, images=world.images, labels=world.labels, registry=world.registry,
            workdir=s.home / "runs" / f"turn-{plan.number}", start_from=plan.start_from,
            on_step=lambda step: say(f"· {step}"), on_epoch=plan.on_epoch,
        )  # fmt: skip

    report.promotion = promotion(report.candidate, metric=plan.gate.metric)
    if report.promotion.promote:
        report.approved = approve_version(
            world.registry, report.candidate.version, reason=report.promotion.reason, actor="loop (promotion rule)"
        )
        with clock("deploy"):
            say(f"canary rollout of {report.approved.version} to {world.line.group}")
            report.rollout = deploy_and_wait(
                world.line.controller, world.registry, world.line.group, report.approved.version,
                policy=plan.policy, timeout=300,
            )  # fmt: skip
    production = world.registry.production(plan.config.name)
    report.production = production.ref if production is not None else None

    if report.production is not None and plan.camera:
        with clock("inspect"):
            since = datetime.now(timezone.utc)
            say(f"the line inspects {len(plan.camera)} new camera images with {report.production}")
            world.line.inspect(plan.camera)
            report.collected = collect_results(world.line.results_db(), world.images, world.labels, since=since)
    return report


class Clock:
    """Seconds per named step, into ``seconds``: ``with clock("train"): ...``."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    def __call__(self, name: str):
        import contextlib

        @contextlib.contextmanager
        def timed():
            started = time.perf_counter()
            try:
                yield
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return timed()
