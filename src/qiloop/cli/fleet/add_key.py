"""``qiloop fleet add-key``: register a device's public key, so that only messages it signed are believed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, user_file
from qiloop.cli.fleet._shared import DeviceOption, fleet_db


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
        added = admit_pending(fleet_db(home), device, key_id=key_id)
    else:
        text = key if key is not None else user_file(key_file, what="public key file").read_text()
        added = register_key(fleet_db(home), device, text, replace=replace)
    if json_out:
        print_json({"device_id": added.device_id, "key_id": added.key_id, "source": added.source})
        return
    console.print(f"{added.device_id}: key {added.key_id} registered", highlight=False)
