"""``qiloop collect`` and ``qiloop results``: receive what the fleet reports, and look at it."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for
from qiloop.registry.refs import format_ref

results_app = typer.Typer(
    help="Inspection results the collector stored (<home>/fleet-results, and what waits in <home>/fleet.db).",
    no_args_is_help=True,
)

DbOption = Annotated[
    Path | None, typer.Option("--db", help="The fleet database (default <home>/fleet.db).", show_default=False)
]


def _line(result) -> Text:
    """One line per result: time, device, image, verdict, scores, latency, model version."""
    scores = ", ".join(f"{d.score:.2f}" for d in result.detections) or "-"
    return Text.assemble(
        f"{result.time:%H:%M:%S} ",
        (result.device_id, "bold"),
        f" #{result.sequence} {result.image_name} ",
        (result.verdict, "red" if result.verdict == "fail" else "green"),
        f" scores [{scores}] {result.latency_ms:.0f} ms ",
        (format_ref(result.model_name, result.model_version), "dim"),
    )


def collect(
    broker: Annotated[
        str | None, typer.Option("--broker", help="Broker URL (default: the configured QILOOP_MQTT_URL).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0, help="Stop after S seconds (default: run until Ctrl-C).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Do not print each result.")] = False,
    topic: Annotated[str | None, typer.Option("--topic", help="Results topic (default: the standard one).")] = None,
    client_id: Annotated[
        str, typer.Option("--client-id", help="MQTT client id; keep it stable so the broker keeps the session.")
    ] = "qiloop-collector",
    watch: Annotated[
        bool,
        typer.Option(
            "--watch/--no-watch",
            help="Raise fleet alerts while collecting (offline devices, defect rate, confidence drift, outboxes,"
            " rollouts); see `qiloop fleet alerts`.",
        ),
    ] = True,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="Serve Prometheus metrics (alerts raised and open) on http://0.0.0.0:PORT/metrics.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    home: HomeOption = None,
) -> None:
    """Receive results, device status and feedback images; store each once and print results as they arrive."""
    from qiloop.core.errors import ConfigurationError
    from qiloop.fleet.collector import Collector
    from qiloop.protocol.topics import RESULT_TOPIC

    settings = settings_for(home)
    url = broker or settings.mqtt_url
    if not url:
        raise ConfigurationError(
            "no MQTT broker to collect from",
            hint="pass --broker mqtt://host:port, set QILOOP_MQTT_URL, or start one with `qiloop broker run`",
        )
    collector = Collector.connect(url, settings, client_id=client_id, db_path=db, results_topic=topic or RESULT_TOPIC)
    if not quiet:
        collector.on_result(lambda r: console.print(_line(r), highlight=False, soft_wrap=True))
    done = threading.Event()
    if metrics_port is not None:
        from qiloop.core.errors import require

        require("prometheus_client", "fleet").start_http_server(metrics_port)
    with collector, _watching(collector, settings, watch):
        console.print(f"collecting from {url} ({', '.join(collector.topics)}); Ctrl-C stops", highlight=False)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the collection, not the command
            done.wait(duration)
        stats = collector.stats()
    console.print(
        f"{stats.total('received')} received: {stats.total('stored')} stored, {stats.total('duplicate')} duplicate, "
        f"{stats.total('invalid')} invalid, {stats.total('failed')} failed, {stats.total('rejected')} rejected"
        " (unsigned, or not signed by the device's registered key)",
        highlight=False,
    )


@contextlib.contextmanager
def _watching(collector, settings, enabled: bool):
    """Run the fleet watcher on the collector's results while the block runs (unless ``--no-watch``)."""
    if not enabled:
        yield None
        return
    from qiloop.fleet.watch import watching

    with watching(collector, settings) as watch:
        yield watch


@results_app.command("ls")
def list_results(
    device: Annotated[str | None, typer.Option("--device", help="Only this device.")] = None,
    verdict: Annotated[str | None, typer.Option("--verdict", help="Only pass or fail.", show_default=False)] = None,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Only results of this model version.", show_default=False)
    ] = None,
    hours: Annotated[
        float | None, typer.Option("--hours", min=0, help="Only the last H hours (by device time).", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Show the newest N results (0: all).")] = 50,
    db: DbOption = None,
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
