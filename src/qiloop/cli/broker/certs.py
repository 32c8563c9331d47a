"""``qiloop broker certs``: the certificates and keys of a fleet's Mosquitto and its devices."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, console, settings_for


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
