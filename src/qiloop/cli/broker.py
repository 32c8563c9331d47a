"""``qiloop broker``: run the embedded MQTT broker in the foreground."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from qiloop.cli.common import console

app = typer.Typer(help="The embedded MQTT broker, for a laptop set-up without Mosquitto.", no_args_is_help=True)


@app.command()
def run(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port; 0 picks a free one.")] = 0,
) -> None:
    """Run an MQTT broker (QoS 0/1/2, retained messages, persistent sessions) until Ctrl-C."""
    from qiloop.broker import EmbeddedBroker

    with EmbeddedBroker(host, port) as broker:
        console.print(f"MQTT broker listening on [bold]{broker.url}[/] (Ctrl-C stops it)", highlight=False)
        console.print(f"  devices and collectors: QILOOP_MQTT_URL={broker.url}", highlight=False)
        try:
            while broker.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("stopping the broker")
