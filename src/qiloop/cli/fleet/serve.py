"""``qiloop fleet serve``: the fleet controller in the foreground, where devices can reach it.

The file server and, when no broker is configured, an embedded MQTT broker listen on
``--host`` (loopback by default) at fixed ports, 8470 and 1883; the command prints the
URLs a device's ``qiloop agent run`` should be given. With the collector (the default) the
fleet watcher runs too, raising alerts (offline, defect rate, drift, outbox, rollout) as
``qiloop collect`` does; ``--no-collect`` leaves results and alerts to a ``qiloop collect``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, console, settings_for


def serve(
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="Broker URL (default: QILOOP_MQTT_URL, else an embedded broker on --host:--mqtt-port).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of the component file server.")] = 8470,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Interface of the file server and the embedded broker; 0.0.0.0 for devices on the network."
        ),
    ] = "127.0.0.1",
    mqtt_port: Annotated[
        int, typer.Option("--mqtt-port", min=0, max=65535, help="Port of the embedded broker, when one is started.")
    ] = 1883,
    collect: Annotated[
        bool,
        typer.Option(
            "--collect/--no-collect",
            help="Also store results and status (else run qiloop collect: it stores them and raises the alerts).",
        ),
    ] = True,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch/--no-watch",
            help="Raise fleet alerts (offline, defect rate, drift, outbox, rollout) from what the collector "
            "stores; needs --collect.",
        ),
    ] = True,
    home: HomeOption = None,
) -> None:
    """Run the fleet controller until Ctrl-C: file server, rollouts, device registry, results collector, alerts.

    It listens on 127.0.0.1 unless told otherwise: only devices on this machine reach it.
    For devices on the network: qiloop fleet serve --host 0.0.0.0 (and open ports 8470 and 1883).
    It prints the --controller and --broker URLs the devices' qiloop agent run should use.
    """
    import contextlib
    import logging
    import signal
    import threading

    from qiloop.broker import EmbeddedBroker
    from qiloop.broker.addresses import is_loopback
    from qiloop.fleet.service import ControllerService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_for(home)
    embedded = None
    url = devices_url = broker or settings.mqtt_url
    if url is None:
        embedded = EmbeddedBroker(host, mqtt_port).start()
        url, devices_url = embedded.url, embedded.public_url
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        with (
            ControllerService.create(settings, url, host=host, port=port, collect=collect) as service,
            _watching(service, settings) if watch else contextlib.nullcontext(),
        ):
            key = settings.home / "keys" / "deploy-signing.pub"
            lines = [f"fleet controller: broker {url}, files {service.files_url}; Ctrl-C stops",
                     f"devices: qiloop agent run --controller {service.server.public_url} --broker {devices_url} "
                     f"--trust-key {key.name} (a copy of {key})"]  # fmt: skip
            if service.server.tokens is not None:
                lines.append(f"  each device with its own --controller URL: qiloop fleet download-url --device ID "
                             f"--base {service.server.public_url}")  # fmt: skip
            if service.collector is None:
                lines.append("results and alerts: run qiloop collect (this controller does not collect)")
            elif watch:
                lines.append("alerts (offline, defect rate, drift, outbox, rollout): qiloop fleet alerts")
            if is_loopback(host):
                lines.append("only this machine can reach it; --host 0.0.0.0 for devices on the network")
            console.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
            stop.wait()
    finally:
        if embedded is not None:
            embedded.stop()


def _watching(service, settings):
    """The fleet watcher on the service's collector and registry, while the block runs (none without a collector)."""
    import contextlib

    if service.collector is None:
        return contextlib.nullcontext()
    from qiloop.fleet.watch import watching

    return watching(service.collector, settings, registry=service.controller.db)
