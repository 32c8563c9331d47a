"""``qiloop labeling``: the labelling service's workforce and jobs (a package: one module per command or group)."""

from __future__ import annotations

import typer

from qiloop.cli.labeling import bots, db, gold, jobs, serve, users

app = typer.Typer(
    help="The labelling service: accounts, jobs, gold images and its web UI, from images to approved labels "
    "(the label store itself is `qiloop labels`).",
    no_args_is_help=True,
)
app.add_typer(users.app, name="users")
app.add_typer(jobs.app, name="jobs")
app.add_typer(db.app, name="db")
app.add_typer(gold.app, name="gold")
app.command("serve")(serve.serve)
app.command("bots")(bots.bots)
