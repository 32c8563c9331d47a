"""``qiloop labeling jobs close``: no new tasks from a job."""

from __future__ import annotations

from qiloop.cli.common import HomeOption, JsonOption
from qiloop.cli.labeling.jobs._shared import JobName, change_job, print_change


def close(name: JobName, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Close a job: no new tasks are handed out; held tasks may still be submitted, and verification goes on."""
    from qiloop.labeling.lifecycle import close_job

    print_change(change_job(home, close_job, name), json_out)
