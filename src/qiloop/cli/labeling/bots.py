"""``qiloop labeling bots``: simulated workers that label a job through the labelling service's HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for


def bots(
    job: Annotated[str, typer.Option("--job", help="The job to label.")],
    count: Annotated[int | None, typer.Option("--count", help="Bots (default 2x annotators per image).", min=1)] = None,
    sloppy: Annotated[int, typer.Option("--sloppy", help="How many of them are sloppy.", min=0)] = 1,
    noise: Annotated[
        str, typer.Option("--noise", help="The careful bots' noise: jitter=0.05,miss=0.05,spurious=0.05.")
    ] = "",
    verify: Annotated[bool, typer.Option("--verify", help="Also verify with a bot verifier, until approved.")] = False,
    url: Annotated[
        str | None, typer.Option("--url", help="A running service (default: start one in this process).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bots' noise.")] = 0,
    max_wait: Annotated[
        float,
        typer.Option(
            "--max-wait",
            min=0,
            help="Seconds a bot keeps asking while images remain leased to others (0: stop at once).",
        ),
    ] = 60.0,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Label a job with simulated workers through the HTTP API, drawing from known truth with noise.

    Truth is the synthetic generator's boxes (images named synth-*) and the label store's approved labels.
    """
    import contextlib

    from qiloop.core.errors import ConfigurationError
    from qiloop.labeling import jobs
    from qiloop.labeling.api.app import create_app
    from qiloop.labeling.api.server import BackgroundServer
    from qiloop.labeling.db import Database
    from qiloop.labelstore import LabelStore
    from qiloop.sim import bots as bot_service
    from qiloop.sim import truth as simulated
    from qiloop.storage import ImageStore

    settings = settings_for(home)
    db = Database.from_settings(settings)
    with db.session() as session:
        per_image = jobs.get_job(session, job).annotators_per_image
    count = count or 2 * per_image
    if sloppy > count:
        raise ConfigurationError(f"--sloppy {sloppy} exceeds --count {count}", hint="ask for fewer sloppy bots")
    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    truth = simulated.KnownTruth(simulated.SynthTruth(images), simulated.label_store_truth(labels))
    accounts = bot_service.bot_accounts(db, count, sloppy, simulated.Noise.parse(noise))
    with contextlib.ExitStack() as stack:
        if url is None:
            app = create_app(settings, db=db, image_store=images, label_store=labels)
            url = stack.enter_context(BackgroundServer(app)).url
        if verify:
            with db.session() as session:
                token = bot_service.bot_token(session, "bot-verifier", "verifier")
            run, approved, rejected = bot_service.label_until_verified(
                url, job, accounts, truth, token, seed=seed, max_wait=max_wait
            )
        else:
            run = bot_service.label_job(url, job, accounts, truth, seed=seed, max_wait=max_wait)
            approved = rejected = 0
    result = {
        "job": job,
        "tasks": run.tasks,
        "per_bot": run.submitted,
        "tasks_per_second": round(run.tasks_per_second, 2),
        "waits": run.waits,
        "approved": approved,
        "rejected": rejected,
    }
    if json_out:
        print_json(result)
    else:
        console.print(
            Text.assemble(
                f"{len(accounts)} bots submitted {run.tasks} tasks of ",
                (job, "bold"),
                f" ({run.tasks_per_second:.1f}/s); approved {approved}, rejected {rejected}",
            ),
            highlight=False,
        )
