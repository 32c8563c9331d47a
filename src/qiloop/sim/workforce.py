"""A labelling job done end to end by a simulated workforce over the labelling service's HTTP API.

The service runs on a free local port; bots (one sloppy) label every image of
the job ``annotators`` times, gold images from the label store's approved labels
measure them, the service consolidates, a bot verifier approves or rejects
against the truth (re-rendered synthetic boxes), rejected images go round again,
and the approved labels land in the label store with their provenance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qiloop.core.records import ImageRecord, LabelRecord
from qiloop.labeling.gold import WorkerAccuracy
from qiloop.sim.truth import Quality

INSTRUCTIONS = "Draw a tight box around every scratch; leave engraving and smudges alone."


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


def add_gold_images(db, labels, *, avoid: Sequence[ImageRecord] = (), count: int = 8) -> int:
    """Make ``count`` approved labels with boxes (not of ``avoid``) gold images; how many were new."""
    from qiloop.labeling.goldset import add_gold

    with db.session() as session:
        return add_gold(session, _gold_records(labels, avoid, count))


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
    """Create a job over ``todo`` and have simulated workers label it over HTTP (see :func:`work_job`).

    Args:
        settings: Where the labelling database lives; its classes are the job's.
        images, labels: The image and label stores the service reads and publishes to.
        todo: Images to label (synthetic ones: their truth is re-rendered from the file name).
        job: Name of the new labelling job.
        gold: Approved labels from the label store mixed in as gold images (every other task).

    Raises:
        MissingDependencyError: The labelling extra is not installed.
    """
    from qiloop.core.errors import require

    require("fastapi", "label")
    from qiloop.labeling import jobs
    from qiloop.labeling.db import Database

    db = Database.from_settings(settings)
    try:
        add_gold_images(db, labels, avoid=todo, count=gold)
        spec = jobs.JobSpec.build(
            name=job, classes=settings.classes, instructions=INSTRUCTIONS, annotators_per_image=annotators, gold_every=2
        )
        with db.session() as session:
            jobs.create_job(session, spec, list(todo))
    finally:
        db.dispose()
    return work_job(settings, images, labels, job, seed=seed, bots=bots, sloppy=sloppy, rounds=rounds)


def work_job(
    settings, images, labels, job: str, *, seed: int = 0, bots: int = 6, sloppy: int = 1, rounds: int = 3
) -> BotLabeling:
    """Simulated workers label the open job ``job`` over HTTP, and a bot verifier decides, until all are approved.

    The service runs in this process on a free port. Each round the bots take every
    task they may; the verifier approves consolidations that match the truth and
    rejects the rest, which go round again (at most ``rounds`` times). The first round
    goes to the last ``annotators`` bots (the sloppy ones among them), so each meets
    enough gold images to be measured. ``bots`` should be a multiple of the job's
    annotators per image, so a rejected image finds workers who have not seen it.

    Raises:
        NotFoundError: No such job.
        MissingDependencyError: The labelling extra is not installed.
    """
    from qiloop.core.errors import require

    require("fastapi", "label")
    from qiloop.labeling import jobs
    from qiloop.labeling.api.app import create_app
    from qiloop.labeling.api.server import BackgroundServer
    from qiloop.labeling.db import Database
    from qiloop.labeling.workforce import accuracy, find_user
    from qiloop.sim import bots as bot_service
    from qiloop.sim.truth import SynthTruth, quality

    truth = SynthTruth(images)
    db = Database.from_settings(settings)
    try:
        with db.session() as session:
            found = jobs.get_job(session, job)
            annotators, size = found.annotators_per_image, jobs.summary(session, found).images
        accounts = bot_service.bot_accounts(db, bots, sloppy)
        with db.session() as session:
            verifier = bot_service.bot_token(session, "bot-verifier", "verifier", "demo")
        app = create_app(settings, db=db, image_store=images, label_store=labels)
        tasks = seconds = approved = rejected = 0
        with BackgroundServer(app) as server:
            for round_ in range(rounds):
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
        images=size,
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


def _gold_records(labels, avoid: Sequence[ImageRecord], count: int) -> list[LabelRecord]:
    """Approved labels with boxes, not among the images to label: known answers to measure workers by."""
    skip = {r.sha256 for r in avoid}
    approved = sorted((r for r in labels.latest() if r.annotations and r.image_sha256 not in skip), key=_uri)
    return approved[:count]


def _uri(record: LabelRecord) -> str:
    return record.image_uri
