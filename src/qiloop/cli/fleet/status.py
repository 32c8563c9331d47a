"""``qiloop fleet status``: the recent rollouts and each device's state."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for
from qiloop.cli.fleet._tables import show_devices, show_rollouts


def status(
    limit: Annotated[int, typer.Option("--limit", help="Recent rollouts to show.")] = 10,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show the recent rollouts (phase, canaries, per-device outcome) and each device's state."""
    from qiloop.fleet.registry_db import FleetDB

    db = FleetDB.from_settings(settings_for(home))
    rollouts, devices, controllers = db.rollouts(limit=limit), db.devices(), db.controllers()
    if json_out:
        print_json({"controllers": controllers, "rollouts": [r.model_dump(mode="json") for r in rollouts],
                    "devices": [d.__dict__ for d in devices]})  # fmt: skip
        return
    console.print(f"controller: {'running' if controllers else 'not running'}")
    show_rollouts(rollouts)
    show_devices(devices)
