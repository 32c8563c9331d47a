"""``qiloop fleet enroll-token``, ``add-key``, ``remove-key`` and ``keys``: which devices the fleet believes.

The controller and the collector accept a device's messages only when its registered key signed
them. An admin registers a key once, either by a one-time token the device brings on its first
hello, or by adding the key (the device home's ``identity/device.pub``) directly.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for, user_file

DeviceOption = Annotated[str, typer.Option("--device", help="The device id (as qiloop agent run --device-id).")]


def _db(home: Path | None):
    from qiloop.fleet.registry_db import FleetDB

    return FleetDB.from_settings(settings_for(home))


def enroll_token(
    device: DeviceOption,
    ttl: Annotated[float, typer.Option("--ttl", min=0.01, help="Hours the token stays valid.")] = 24.0,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a one-time token that enrolls one device's key on its first hello.

    Start the device with QILOOP_ENROLL_TOKEN=<token> qiloop agent run --device-id ID ...;
    the token is shown once, and spent when the device enrolls.
    """
    from qiloop.fleet.enrollment import create_token

    made = create_token(_db(home), device, ttl_s=ttl * 3600)
    expires = datetime.fromtimestamp(made.expires_at, timezone.utc).isoformat(timespec="seconds")
    if json_out:
        print_json({"device_id": made.device_id, "token": made.token, "expires_at": expires})
        return
    console.print(f"enrollment token for {made.device_id} (valid until {expires}, shown once):", highlight=False)
    console.print(made.token, highlight=False)
    console.print(f"on the device: QILOOP_ENROLL_TOKEN={made.token} qiloop agent run --device-id {made.device_id} ...",
                  highlight=False)  # fmt: skip


def add_key(
    device: DeviceOption,
    key: Annotated[
        str | None, typer.Option("--key", help="The device's public key (base64).", show_default=False)
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="A file holding it: <device home>/identity/device.pub.", show_default=False),
    ] = None,
    pending: Annotated[
        bool, typer.Option("--pending", help="The key the device presented while waiting (see keys --pending).")
    ] = False,
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="With --pending: the key id you expect.", show_default=False)
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace the key the device has now.")] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Register a device's public key: from now on only messages it signed are believed."""
    from qiloop.core.errors import ConfigurationError
    from qiloop.fleet.enrollment import admit_pending, register_key

    if sum(x is not None and x is not False for x in (key, key_file, pending)) != 1:
        raise ConfigurationError("give the key with --key, --key-file or --pending (one of them)")
    if pending:
        added = admit_pending(_db(home), device, key_id=key_id)
    else:
        text = key if key is not None else user_file(key_file, what="public key file").read_text()
        added = register_key(_db(home), device, text, replace=replace)
    if json_out:
        print_json({"device_id": added.device_id, "key_id": added.key_id, "source": added.source})
        return
    console.print(f"{added.device_id}: key {added.key_id} registered", highlight=False)


def remove_key(device: DeviceOption, home: HomeOption = None) -> None:
    """Forget a device's key: its messages are dropped until it enrolls again."""
    from qiloop.core.errors import NotFoundError

    if not _db(home).remove_device_key(device):
        raise NotFoundError(f"device {device!r} has no registered key", hint="qiloop fleet keys lists them")
    console.print(f"{device}: key removed", highlight=False)


def keys(
    pending: Annotated[
        bool, typer.Option("--pending", help="The devices waiting to join instead (not enrolled, said hello).")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the registered device keys: device, key id, how it came (token or admin), when."""
    from rich.table import Table

    if pending:
        _show_pending(_db(home).pending_devices(), json_out)
        return
    found = _db(home).device_keys()
    rows = [(k.device_id, k.key_id, k.source, datetime.fromtimestamp(k.added_at, timezone.utc).isoformat(
        timespec="seconds")) for k in found]  # fmt: skip
    if json_out:
        print_json([dict(zip(("device_id", "key_id", "source", "added_at"), r, strict=True)) for r in rows])
        return
    table = Table("device", "key id", "source", "added")
    for row in rows:
        table.add_row(*row)
    console.print(table if rows else "no device keys registered (qiloop fleet enroll-token or add-key)")


def _show_pending(found, json_out: bool) -> None:
    from rich.table import Table

    rows = [(p.device_id, p.key_id, p.public_key, datetime.fromtimestamp(p.seen_at, timezone.utc).isoformat(
        timespec="seconds")) for p in found]  # fmt: skip
    if json_out:
        print_json([dict(zip(("device_id", "key_id", "public_key", "seen_at"), r, strict=True)) for r in rows])
        return
    table = Table("device", "key id", "public key", "last hello")
    for row in rows:
        table.add_row(*row)
    console.print(table if rows else "no device is waiting to join")


def register(app: typer.Typer) -> None:
    """Add the enrollment commands to ``qiloop fleet``."""
    app.command("enroll-token")(enroll_token)
    app.command("add-key")(add_key)
    app.command("remove-key")(remove_key)
    app.command("keys")(keys)
