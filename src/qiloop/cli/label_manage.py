"""``qiloop labeling jobs close|reopen|cancel``: a job's life after it is created."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, print_json
from qiloop.cli.label_db import open_database

JobName = Annotated[str, typer.Argument(help="The job's name (`qiloop labeling jobs ls` lists them).")]


def jobs_close(name: JobName, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Close a job: no new tasks are handed out; held tasks may still be submitted, and verification goes on."""
    from qiloop.labeling.lifecycle import close_job

    _report(_apply(home, close_job, name), json_out)


def jobs_reopen(name: JobName, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Reopen a closed job: its tasks are handed out again."""
    from qiloop.labeling.lifecycle import reopen_job

    _report(_apply(home, reopen_job, name), json_out)


def jobs_cancel(
    name: JobName,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cancel a job for good: outstanding leases end, its unapproved images are freed; approved labels stay."""
    from qiloop.labeling.lifecycle import cancel_job

    if not yes:
        typer.confirm(f"Cancel the job {name!r}? A cancelled job cannot be reopened", abort=True)
    _report(_apply(home, cancel_job, name), json_out)


def _apply(home, action, name: str):
    with open_database(home)[1].session() as session:
        return action(session, name)


def _report(done, json_out: bool) -> None:
    job = done.job
    if json_out:
        print_json(
            {"name": job.name, "state": job.state, "previous": done.previous, "changed": done.changed,
             "leases_ended": done.leases_ended, "images": job.images, "labeling": job.labeling,
             "verifying": job.verifying, "approved": job.approved}
        )  # fmt: skip
    elif not done.changed:
        console.print(f"job {job.name} is already {job.state}", highlight=False)
    else:
        ended = f"; {done.leases_ended} outstanding lease(s) ended" if done.leases_ended else ""
        console.print(f"job {job.name}: {done.previous} -> {job.state}{ended}", highlight=False)
