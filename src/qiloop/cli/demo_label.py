"""The demo's labelling step: images without an approved label go through a labelling job done by bots.

The labelling service runs on a free local port; six simulated workers (one
sloppy) label every image three times over real HTTP, gold images from the
imported labels measure them, the service consolidates, a bot verifier approves
or rejects against the synthetic generator's truth, and approved labels land in
the label store with their provenance, before training reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from rich.table import Table
from rich.text import Text

from qiloop.cli.common import console
from qiloop.core.records import ImageRecord, LabelRecord
from qiloop.labeling.gold import WorkerAccuracy
from qiloop.labeling.simulated import Quality


@dataclass(frozen=True)
class BotLabeling:
    """What a bot-labelled job did: its images, tasks, verdicts, the workers' gold records, and the approved labels."""

    job: str
    images: int
    tasks: int
    seconds: float
    approved: int
    rejected: int
    records: tuple[LabelRecord, ...]
    workers: dict[str, WorkerAccuracy]
    sloppy: tuple[str, ...]
    label_store_version: int | None
    quality: Quality  # the approved boxes against the generator's truth

    @property
    def agreement(self) -> float:
        """Mean annotator agreement of the approved labels."""
        values = [r.agreement for r in self.records if r.agreement is not None]
        return sum(values) / len(values) if values else 0.0


def label_with_bots(
    settings,
    images,
    labels,
    todo: Sequence[ImageRecord],
    *,
    job: str,
    seed: int = 0,
    annotators: int = 3,
    bots: int = 6,
    sloppy: int = 1,
    gold: int = 8,
    rounds: int = 3,
) -> BotLabeling:
    """Label ``todo`` with a job done by simulated workers over HTTP, until approved or out of fresh workers.

    Args:
        settings: Where the labelling database lives.
        images, labels: The image and label stores the service reads and publishes to.
        todo: Images to label (synthetic ones: their truth is re-rendered from the file name).
        job: Name of the new labelling job.
        annotators: Annotators per image; ``bots`` should be a multiple of it, so a rejected
            image finds workers who have not seen it.
        gold: Approved labels from the label store mixed in as gold images (every other task).
        rounds: At most this many verify-and-relabel rounds.

    Raises:
        MissingDependencyError: The labelling extra is not installed.
    """
    from qiloop.core.errors import require

    require("fastapi", "label")
    from qiloop.labeling import bots as bot_service
    from qiloop.labeling import jobs
    from qiloop.labeling.api.app import create_app
    from qiloop.labeling.api.server import BackgroundServer
    from qiloop.labeling.db import Database
    from qiloop.labeling.goldset import add_gold
    from qiloop.labeling.simulated import SynthTruth, quality
    from qiloop.labeling.workforce import accuracy, find_user

    truth = SynthTruth(images)
    db = Database.from_settings(settings)
    try:
        with db.session() as session:
            add_gold(session, _gold_records(labels, todo, gold))
            spec = jobs.JobSpec.build(
                name=job,
                classes=settings.classes,
                instructions="Draw a tight box around every scratch; leave engraving and smudges alone.",
                annotators_per_image=annotators,
                gold_every=2,
            )
            jobs.create_job(session, spec, list(todo))
        accounts = bot_service.bot_accounts(db, bots, sloppy)
        with db.session() as session:
            verifier = bot_service.bot_token(session, "bot-verifier", "verifier", "demo")
        app = create_app(settings, db=db, image_store=images, label_store=labels)
        tasks = seconds = approved = rejected = 0
        with BackgroundServer(app) as server:
            for round_ in range(rounds):
                # The first round goes to the last `annotators` bots (the sloppy ones among them): each labels
                # every image, so each meets enough gold images to be measured. Later rounds take anyone fresh.
                crew = accounts[-annotators:] if round_ == 0 else accounts
                run = bot_service.label_job(server.url, job, crew, truth, seed=seed + round_)
                tasks, seconds = tasks + run.tasks, seconds + run.seconds
                ok, bad = bot_service.verify_job(server.url, job, verifier, truth)
                approved, rejected = approved + ok, rejected + bad
                if not bad:
                    break
        with db.session() as session:
            workers = accuracy(session, workers=[find_user(session, a.username).id for a in accounts])
    finally:
        db.dispose()
    records = tuple(r for r in labels.latest() if r.labeling_job == job)
    return BotLabeling(
        job=job,
        images=len(todo),
        tasks=tasks,
        seconds=seconds,
        approved=approved,
        rejected=rejected,
        records=records,
        workers=workers,
        sloppy=tuple(a.username for a in accounts if a.noise == bot_service.SLOPPY),
        label_store_version=labels.version(),
        quality=quality({r.image_sha256: r.annotations for r in records}, truth),
    )


def label_step(settings, images, labels, *, seed: int, step) -> BotLabeling | None:
    """The demo step: label the images without an approved label with bots, and print what happened."""
    todo = images.unlabeled(labels.labeled_sha256s())
    step(f"label those {len(todo)} images: a job done by 6 bots (one sloppy) over HTTP")
    if not todo:
        console.print("  nothing to label")
        return None
    job = f"demo-{seed}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    result = label_with_bots(settings, images, labels, todo, job=job, seed=seed)
    print_result(result)
    return result


def print_result(result: BotLabeling) -> None:
    """A short table of a bot-labelled job: images, agreement, the sloppy bot, the label-store version."""
    table = Table("job " + result.job, "result")
    rate = result.tasks / result.seconds if result.seconds > 0 else 0.0
    table.add_row("images labelled (APPROVED)", f"{len(result.records)} of {result.images}")
    table.add_row("tasks (incl. gold)", f"{result.tasks} in {result.seconds:.1f} s ({rate:.1f}/s)")
    table.add_row("bot verifier", f"approved {result.approved}, rejected {result.rejected} (sent to a new round)")
    table.add_row("mean agreement", f"{result.agreement:.2f}")
    q = result.quality
    table.add_row("vs generator truth", f"F1@0.5 {q.f1:.3f}, mean IoU {q.mean_iou:.3f}")
    for name in result.sloppy:
        w = result.workers[name]
        gold = "-" if w.mean_f1 is None else f"{w.mean_f1:.2f}"
        flag = Text("flagged", style="red") if w.flagged else "not flagged"
        table.add_row(f"sloppy bot {name}", f"gold F1 {gold} on {w.gold_items}, weight {w.reliability:.2f}, {flag}")
    careful = [w for n, w in result.workers.items() if n not in result.sloppy]
    if careful:
        low = min(w.reliability for w in careful)
        table.add_row("careful bots", f"{len(careful)}, weight ≥ {low:.2f}, {sum(w.flagged for w in careful)} flagged")
    table.add_row("label-store version", str(result.label_store_version))
    console.print(table)
    if result.records:
        r = result.records[0]
        console.print(
            f"  provenance of one record: job {r.labeling_job}, annotators {', '.join(r.annotators)}, "
            f"agreement {r.agreement:.2f}, verifier {r.verifier}, source {r.source.value}",
            highlight=False,
        )


def _gold_records(labels, todo: Sequence[ImageRecord], count: int) -> list[LabelRecord]:
    """Approved labels with boxes, not among the images to label: known answers to measure workers by."""
    skip = {r.sha256 for r in todo}
    approved = sorted((r for r in labels.latest() if r.annotations and r.image_sha256 not in skip), key=_uri)
    return approved[:count]


def _uri(record: LabelRecord) -> str:
    return record.image_uri
