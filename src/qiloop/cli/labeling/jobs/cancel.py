"""``qiloop labeling jobs cancel``: end a job for good."""

from __future__ import annotations

import typer

from qiloop.cli.common import HomeOption, JsonOption, YesOption
from qiloop.cli.labeling.jobs._shared import JobName, change_job, print_change


def cancel(
    name: JobName,
    yes: YesOption = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cancel a job for good: outstanding leases end, its unapproved images are freed; approved labels stay."""
    from qiloop.labeling.lifecycle import cancel_job

    if not yes:
        typer.confirm(f"Cancel the job {name!r}? A cancelled job cannot be reopened", abort=True)
    print_change(change_job(home, cancel_job, name), json_out)
