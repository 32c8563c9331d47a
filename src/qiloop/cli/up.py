"""``qiloop up``: the local stack in one command, until Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from qiloop.cli.common import HomeOption, console, err_console, settings_for


def _port(option: str, what: str):
    return typer.Option(option, min=0, max=65535, help=f"Port of {what} (0: a free one).", show_default=True)


def up(
    host: Annotated[
        str, typer.Option("--host", help="Interface every part listens on; 0.0.0.0 for other machines on the network.")
    ] = "127.0.0.1",
    labeling_port: Annotated[int, _port("--labeling-port", "the labelling service")] = 8080,
    dagster_port: Annotated[int, _port("--dagster-port", "Dagster's webserver")] = 3000,
    mlflow_port: Annotated[int, _port("--mlflow-port", "the MLflow UI")] = 5000,
    fleet_port: Annotated[int, _port("--fleet-port", "the fleet controller's file server")] = 8470,
    mqtt_port: Annotated[int, _port("--mqtt-port", "the MQTT broker, when one is started")] = 1883,
    without: Annotated[
        list[str] | None,
        typer.Option(
            "--without",
            help="Leave a part out (repeat for more): broker, mlflow, labeling, fleet, collector, "
            "dagster-webserver, dagster-daemon, or dagster for both.",
            show_default=False,
        ),
    ] = None,
    start_timeout: Annotated[
        float, typer.Option("--start-timeout", min=1, help="Seconds each part may take to become ready.")
    ] = 180.0,
    home: HomeOption = None,
) -> None:
    """Run the local stack of a qiloop home until Ctrl-C or SIGTERM, then stop every part.

    It starts the labelling service, Dagster's webserver and daemon (DAGSTER_HOME=<home>/dagster, so cursors and
    run history persist), the MLflow UI, the MQTT broker when QILOOP_MQTT_URL is unset, the fleet controller and
    the results collector, each as its own process (logs in <home>/stack/logs), waits until each answers, then
    prints what runs where. Everything listens on 127.0.0.1 unless --host says otherwise.

    A part that ends on its own is reported with the end of its log and the others are stopped (exit code 1):
    nothing restarts behind your back. A second qiloop up on the same home is refused (exit code 2), as is a port
    already taken. `qiloop status` shows each part's health and the loop's state.
    """
    import signal
    import threading

    from qiloop.settings import load_settings
    from qiloop.stack.plan import StackOptions, expand_without
    from qiloop.stack.runner import run_stack

    resolved = settings_for(home)
    settings = load_settings(home=resolved.home.resolve())
    ports = {"broker": mqtt_port, "mlflow": mlflow_port, "labeling": labeling_port, "fleet": fleet_port,
             "dagster-webserver": dagster_port}  # fmt: skip
    options = StackOptions(host=host, ports=ports, without=expand_without(without or []), start_timeout=start_timeout)

    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    status = console.status(f"starting the qiloop stack of {settings.home} ...")
    status.start()

    def ready(record, health) -> None:
        status.stop()
        console.print(_table(record, health))
        console.print(f"logs in {settings.home / 'stack' / 'logs'}; Ctrl-C stops every part", highlight=False)

    try:
        outcome = run_stack(settings, options, stop, on_ready=ready, on_stopping=lambda why: status.stop())
    finally:
        status.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    stopped = ", ".join(f"{name} {how}" for name, how in outcome.stopped.items())
    console.print(f"stopped: {stopped or 'nothing was running'}", highlight=False, soft_wrap=True)
    if outcome.failed is not None:
        err_console.print(Text.assemble(("error:", "bold red"), " ", outcome.detail), highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _table(record, health) -> Table:
    """One row per part: what it is, where it is reached, its pid and whether it answered."""
    table = Table("part", "what", title=f"qiloop stack of {record.home}")
    table.add_column("URL", no_wrap=True)
    table.add_column("pid")
    table.add_column("state")
    for part in record.parts:
        answer = health.get(part.name)
        state = Text("ready", style="green") if answer and answer.ok else Text("not ready", style="yellow")
        table.add_row(part.name, part.title, part.url or "-", str(part.pid), state)
    for name, url in record.external.items():
        table.add_row(name, "configured, runs elsewhere", url, "-", Text("external", style="dim"))
    return table
