"""``qiloop labels ls``: the latest label of each image."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from qiloop.cli.common import HomeOption, JsonOption, as_of_arg, console, print_json
from qiloop.cli.labels._shared import AsOf, StoreVersion, read_stores


def ls(
    as_of: AsOf = None,
    store_version: StoreVersion = None,
    status: Annotated[
        str, typer.Option("--status", help="APPROVED, REJECTED, PENDING_VERIFICATION or ANY.")
    ] = "APPROVED",
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many rows.")] = 50,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the latest label of each image (as of a time or version), filtered by status."""
    _, _, labels = read_stores(home)
    wanted = None if status.upper() == "ANY" else status.upper()
    records = labels.latest(as_of=as_of_arg(as_of, store_version), status=wanted)
    if json_out:
        print_json([r.model_dump(mode="json") for r in records[:limit]])
        return
    table = Table("image", "status", "boxes", "event time", "job", title=f"{len(records)} images")
    for r in records[:limit]:
        table.add_row(r.image_uri, r.status.value, str(len(r.annotations)), r.event_time.isoformat(), r.labeling_job)
    console.print(table)
