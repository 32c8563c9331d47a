"""``qiloop collect``: receive what the fleet reports (results, status, feedback images) and store it once."""

from __future__ import annotations

import contextlib
import threading
from typing import Annotated

import typer

from qiloop.cli.common import FleetDbOption, HomeOption, console, result_line, settings_for


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
    db: FleetDbOption = None,
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
        collector.on_result(lambda r: console.print(result_line(r), highlight=False, soft_wrap=True))
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
