"""``qiloop fleet enroll-token``: a one-time token that enrolls a device's key on its first hello.

The controller and the collector accept a device's messages only when its registered key signed
them. An admin registers a key once, either by a one-time token the device brings on its first
hello, or by adding the key (the device home's ``identity/device.pub``) directly (``fleet add-key``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, print_json
from qiloop.cli.fleet._shared import DeviceOption, fleet_db


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

    made = create_token(fleet_db(home), device, ttl_s=ttl * 3600)
    expires = datetime.fromtimestamp(made.expires_at, timezone.utc).isoformat(timespec="seconds")
    if json_out:
        print_json({"device_id": made.device_id, "token": made.token, "expires_at": expires})
        return
    console.print(f"enrollment token for {made.device_id} (valid until {expires}, shown once):", highlight=False)
    console.print(made.token, highlight=False)
    console.print(f"on the device: QILOOP_ENROLL_TOKEN={made.token} qiloop agent run --device-id {made.device_id} ...",
                  highlight=False)  # fmt: skip
