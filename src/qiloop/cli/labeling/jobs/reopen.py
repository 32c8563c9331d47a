"""``qiloop labeling jobs reopen``: a closed job hands out tasks again."""

from __future__ import annotations

from qiloop.cli.common import HomeOption, JsonOption
from qiloop.cli.labeling.jobs._shared import JobName, change_job, print_change


def reopen(name: JobName, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Reopen a closed job: its tasks are handed out again."""
    from qiloop.labeling.lifecycle import reopen_job

    print_change(change_job(home, reopen_job, name), json_out)
