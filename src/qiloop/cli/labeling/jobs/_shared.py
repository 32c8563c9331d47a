"""What the ``qiloop labeling jobs`` commands share: the job-name argument, a job as JSON, and a change of state."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import console, open_database, print_json

JobName = Annotated[str, typer.Argument(help="The job's name (`qiloop labeling jobs ls` lists them).")]


def job_json(summary) -> dict:
    """A job's summary as the ``--json`` of ``jobs create`` and ``jobs ls`` print it."""
    return {
        "id": summary.id,
        "name": summary.name,
        "state": summary.state,
        "classes": list(summary.classes),
        "annotators_per_image": summary.annotators_per_image,
        "images": summary.images,
        "labeling": summary.labeling,
        "verifying": summary.verifying,
        "approved": summary.approved,
        "created_at": summary.created_at.isoformat(),
    }


def change_job(home, action, name: str):
    """Apply a lifecycle ``action`` (close, reopen, cancel) to the job ``name``; what it did."""
    with open_database(home)[1].session() as session:
        return action(session, name)


def print_change(done, json_out: bool) -> None:
    """Print a lifecycle change: the job's state before and after, and the leases it ended."""
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
