"""``qiloop broker``: run the embedded MQTT broker; make the certificates and the ACL of a fleet's Mosquitto."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, console, settings_for

app = typer.Typer(
    help="The embedded MQTT broker, for a set-up without Mosquitto; certificates and the ACL of a fleet's Mosquitto.",
    no_args_is_help=True,
)


@app.command()
def run(
    host: Annotated[
        str,
        typer.Option("--host", help="Interface to listen on; 0.0.0.0 for devices on the network (every interface)."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (MQTT's own, 1883); 0 picks a free one.")
    ] = 1883,
) -> None:
    """Run an MQTT broker (QoS 0/1/2, retained messages, persistent sessions) until Ctrl-C.

    It listens on 127.0.0.1:1883 unless told otherwise: only this machine reaches it.
    For devices on the network: qiloop broker run --host 0.0.0.0 (and open the port).
    A port already taken (say by Mosquitto) exits 2.
    """
    from qiloop.broker import EmbeddedBroker
    from qiloop.broker.addresses import is_loopback

    with EmbeddedBroker(host, port) as broker:
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
        try:
            while broker.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("stopping the broker")


@app.command("acl")
def acl(
    device: Annotated[
        list[str] | None,
        typer.Option(
            "--device", help="A device account and its groups: ID or ID:GROUP,GROUP (repeat).", show_default=False
        ),
    ] = None,
    from_fleet: Annotated[
        bool,
        typer.Option("--from-fleet", help="Add every device the fleet controller knows, with the groups it reported."),
    ] = False,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            help="A cloud service account that reads and writes every qiloop/ topic (repeat; "
            "default qiloop-controller and qiloop-collector).",
            show_default=False,
        ),
    ] = None,
    results_topic: Annotated[
        str | None,
        typer.Option(
            "--results-topic",
            help="The topic devices publish results on (default: the standard one).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the ACL to this file (default: print it).", show_default=False),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Generate a Mosquitto ACL: each device publishes only under its own topics and reads only its deployments.

    A device's broker account is its device id: it may publish under qiloop/devices/ID/ and on the results
    topic, and read qiloop/deployments/device/ID and the deployment topics of its groups; nothing else.
    Service accounts read and write the whole qiloop/ tree. Point Mosquitto at it with acl_file, together
    with allow_anonymous false and a password_file (mosquitto_passwd) or client certificates
    (require_certificate true, use_identity_as_username true); see deploy/compose/mosquitto/mosquitto.conf.
    Regenerate it when devices join: Mosquitto rereads it on SIGHUP (systemctl reload mosquitto).
    """
    from qiloop.broker.acl import SERVICES, DeviceAccess, acl_text, write_acl
    from qiloop.core.errors import ConfigurationError

    devices = [DeviceAccess.parse(text) for text in device or []]
    if from_fleet:
        from qiloop.fleet.registry_db import FleetDB

        fleet = FleetDB.from_settings(settings_for(home, must_exist=True))
        try:
            devices += [DeviceAccess(row.device_id, tuple(row.groups)) for row in fleet.devices()]
        finally:
            fleet.close()
    if not devices:
        raise ConfigurationError(
            "no devices to give access", hint="name them with --device ID[:GROUP,...] or use --from-fleet"
        )
    kwargs = {} if results_topic is None else {"results_topic": results_topic}
    text = acl_text(devices, services=service or SERVICES, **kwargs)
    if out is None:
        typer.echo(text, nl=False)
        return
    write_acl(out, text)
    accounts = len({d.device_id for d in devices})
    console.print(f"wrote {out}: {accounts} device account(s), {len(service or SERVICES)} service account(s)",
                  highlight=False, markup=False, soft_wrap=True)  # fmt: skip


@app.command("certs")
def certs(
    out: Annotated[Path, typer.Option("--out", help="Folder for the certificates, keys and a copy of ca.pem.")],
    broker_host: Annotated[
        list[str] | None,
        typer.Option(
            "--broker-host",
            help="A host name or IP the broker is dialled by: issues broker.pem (repeat).",
            show_default=False,
        ),
    ] = None,
    client: Annotated[
        list[str] | None,
        typer.Option(
            "--client", help="A client certificate for this device id or service account (repeat).", show_default=False
        ),
    ] = None,
    server: Annotated[
        list[str] | None,
        typer.Option(
            "--server",
            help="Another server certificate, NAME=HOST[,HOST] (the file server: "
            "fleet=fleet.example.com); writes NAME.pem (repeat).",
            show_default=False,
        ),
    ] = None,
    ca_dir: Annotated[
        Path | None,
        typer.Option(
            "--ca-dir",
            help="Where the CA's ca.pem and ca.key live (made on first use; default "
            "<home>/keys/mqtt-ca). Keep it off the devices.",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Issue the certificates for mutual TLS: the broker's, and one per device or cloud service.

    A client certificate's common name is its broker account (use_identity_as_username true), so the
    ACL of qiloop broker acl confines it. Each NAME.key is written readable by its owner only; copy a
    device's NAME.pem, NAME.key and ca.pem to the device (see README.md, Running in production).
    """
    from qiloop.broker.certs import issue, load_or_create_ca
    from qiloop.core.errors import ConfigurationError

    if not (broker_host or client or server):
        raise ConfigurationError("nothing to issue", hint="give --broker-host, --client or --server")
    ca = load_or_create_ca(ca_dir or settings_for(home).home / "keys" / "mqtt-ca")
    out.mkdir(parents=True, exist_ok=True)
    (out / "ca.pem").write_bytes(ca.cert_pem)
    written = []
    if broker_host:
        written.append(issue(ca, broker_host[0], hosts=broker_host).write(out, "broker")[0])
    for item in server or []:
        name, _, hosts = item.partition("=")
        if not name or not hosts:
            raise ConfigurationError(f"--server {item!r} is not NAME=HOST[,HOST]", hint="e.g. fleet=fleet.example.com")
        names = [h.strip() for h in hosts.split(",") if h.strip()]
        written.append(issue(ca, names[0], hosts=names).write(out, name)[0])
    for name in client or []:
        written.append(issue(ca, name).write(out, name)[0])
    for path in written:
        console.print(f"wrote {path} and its .key", highlight=False, markup=False, soft_wrap=True)
    console.print(f"CA: {out / 'ca.pem'}", highlight=False, markup=False, soft_wrap=True)
