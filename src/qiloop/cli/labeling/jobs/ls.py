"""``qiloop labeling jobs ls``: the jobs and their progress."""

from __future__ import annotations

from rich.table import Table

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json
from qiloop.cli.labeling.jobs._shared import job_json


def ls(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List jobs, newest first, with their progress."""
    from qiloop.labeling.jobs import list_jobs

    _, db = open_database(home, must_exist=True)
    with db.session() as session:
        summaries = list_jobs(session)
    if json_out:
        print_json([job_json(s) for s in summaries])
        return
    table = Table("job", "state", "classes", "per image", "images", "labelling", "verifying", "approved")
    for s in summaries:
        table.add_row(
            s.name, s.state, ", ".join(s.classes), str(s.annotators_per_image), str(s.images),
            str(s.labeling), str(s.verifying), str(s.approved),
        )  # fmt: skip
    console.print(table)
