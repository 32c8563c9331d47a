"""``qiloop broker run``: the embedded MQTT broker, for a set-up without Mosquitto."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from qiloop.cli.common import console


def run(
    host: Annotated[
        str,
        typer.Option("--host", help="Interface to listen on; 0.0.0.0 for devices on the network (every interface)."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (MQTT's own, 1883); 0 picks a free one.")
    ] = 1883,
) -> None:
    """Run an MQTT broker (QoS 0/1/2, retained messages, persistent sessions) until Ctrl-C or SIGTERM.

    It listens on 127.0.0.1:1883 unless told otherwise: only this machine reaches it.
    For devices on the network: qiloop broker run --host 0.0.0.0 (and open the port).
    A port already taken (say by Mosquitto) exits 2.
    """
    from qiloop.broker import EmbeddedBroker
    from qiloop.broker.addresses import is_loopback

    with EmbeddedBroker(host, port) as broker:
        # Ctrl-C and SIGTERM (systemd, docker stop) both stop it cleanly, also when the process was
        # started with SIGINT ignored (a background job of a shell), where no KeyboardInterrupt comes.
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        console.print(
            f"MQTT broker listening on {host}:{broker.port} (Ctrl-C stops it)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        console.print(f"  on this machine: QILOOP_MQTT_URL={broker.url}", highlight=False, markup=False, soft_wrap=True)
        if is_loopback(host):
            console.print("  only this machine can reach it; --host 0.0.0.0 for devices on the network",
                          highlight=False, markup=False, soft_wrap=True)  # fmt: skip
        else:
            console.print(f"  devices: --broker {broker.public_url}", highlight=False, markup=False, soft_wrap=True)
        while broker.running and not stop.wait(0.5):
            pass
        console.print("stopping the broker")
