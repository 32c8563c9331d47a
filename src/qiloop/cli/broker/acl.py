"""``qiloop broker acl``: the ACL of a fleet's Mosquitto, one account per device."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, console, settings_for


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
