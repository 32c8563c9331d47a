"""``qiloop results``: the inspection results the collector stored."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import FleetDbOption, HomeOption, JsonOption, console, print_json, settings_for
from qiloop.registry.refs import format_ref

app = typer.Typer(
    help="Inspection results the collector stored (<home>/fleet-results, and what waits in <home>/fleet.db).",
    no_args_is_help=True,
)


@app.command("ls")
def ls(
    device: Annotated[str | None, typer.Option("--device", help="Only this device.")] = None,
    verdict: Annotated[str | None, typer.Option("--verdict", help="Only pass or fail.", show_default=False)] = None,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Only results of this model version.", show_default=False)
    ] = None,
    hours: Annotated[
        float | None, typer.Option("--hours", min=0, help="Only the last H hours (by device time).", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Show the newest N results (0: all).")] = 50,
    db: FleetDbOption = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """List stored inspection results, newest first."""
    from datetime import datetime, timedelta, timezone

    from qiloop.core.errors import ConfigurationError
    from qiloop.fleet.results_db import ResultsDB

    if verdict not in (None, "pass", "fail"):
        raise ConfigurationError(f"unknown verdict {verdict!r}", hint="use --verdict pass or --verdict fail")
    since = datetime.now(timezone.utc) - timedelta(hours=hours) if hours is not None else None
    with ResultsDB.from_settings(settings_for(home, must_exist=db is None), db) as results_db:
        rows = results_db.results(device, limit, verdict=verdict, model_version=model_version, since=since)
    if json_output:
        print_json([{**r.message.model_dump(mode="json"), "received_at": r.received_at.isoformat()} for r in rows])
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} result(s), newest first", caption=str(results_db.path))
    for column in ("time (UTC)", "device", "seq", "image", "verdict", "scores", "latency", "model"):
        table.add_column(column, no_wrap=column not in ("image", "scores"))
    for row in rows:
        r = row.message
        table.add_row(
            f"{r.time:%Y-%m-%d %H:%M:%S}",
            r.device_id,
            str(r.sequence),
            r.image_name,
            Text(r.verdict, style="red" if r.verdict == "fail" else "green"),
            ", ".join(f"{d.score:.2f}" for d in r.detections),
            f"{r.latency_ms:.0f} ms",
            format_ref(r.model_name, r.model_version),
        )
    console.print(table)
