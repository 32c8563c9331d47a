"""``qiloop labels stats``: counts over the label store."""

from __future__ import annotations

from rich.table import Table

from qiloop.cli.common import HomeOption, JsonOption, console, print_json
from qiloop.cli.labels._shared import read_stores


def stats(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Counts: records, images, latest status per image, boxes, versions, jobs."""
    _, _, labels = read_stores(home)
    data = labels.stats()
    if json_out:
        print_json(data)
        return
    table = Table("measure", "value", title="label store")
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        table.add_row(key, str(value))
    console.print(table)
