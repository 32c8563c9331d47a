"""``qiloop fleet serve``: the fleet controller in the foreground, where devices can reach it.

The file server and, when no broker is configured, an embedded MQTT broker listen on
``--host`` (loopback by default) at fixed ports, 8470 and 1883; the command prints the
URLs a device's ``qiloop agent run`` should be given.
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
    collect: Annotated[bool, typer.Option("--collect/--no-collect", help="Also store results and status.")] = True,
    home: HomeOption = None,
) -> None:
    """Run the fleet controller until Ctrl-C: file server, rollouts, device registry, results collector.

    It listens on 127.0.0.1 unless told otherwise: only devices on this machine reach it.
    For devices on the network: qiloop fleet serve --host 0.0.0.0 (and open ports 8470 and 1883).
    It prints the --controller and --broker URLs the devices' qiloop agent run should use.
    """
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
        with ControllerService.create(settings, url, host=host, port=port, collect=collect) as service:
            key = settings.home / "keys" / "deploy-signing.pub"
            lines = [f"fleet controller: broker {url}, files {service.files_url}; Ctrl-C stops",
                     f"devices: qiloop agent run --controller {service.server.public_url} --broker {devices_url} "
                     f"--trust-key {key.name} (a copy of {key})"]  # fmt: skip
            if service.server.tokens is not None:
                lines.append(f"  each device with its own --controller URL: qiloop fleet download-url --device ID "
                             f"--base {service.server.public_url}")  # fmt: skip
            if is_loopback(host):
                lines.append("only this machine can reach it; --host 0.0.0.0 for devices on the network")
            console.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
            stop.wait()
    finally:
        if embedded is not None:
            embedded.stop()
