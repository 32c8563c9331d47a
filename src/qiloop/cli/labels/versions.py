"""``qiloop labels versions``: the label store's table versions."""

from __future__ import annotations

from rich.table import Table

from qiloop.cli.common import HomeOption, JsonOption, console, print_json
from qiloop.cli.labels._shared import read_stores


def versions(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """The label store's table versions (each append is one)."""
    _, _, labels = read_stores(home)
    rows = labels.versions()
    if json_out:
        print_json([v.__dict__ if hasattr(v, "__dict__") else v for v in rows])
        return
    table = Table("version", "time", "operation", "rows added")
    for v in rows:
        table.add_row(str(v.version), str(v.timestamp), v.operation, str(v.rows_added))
    console.print(table)
