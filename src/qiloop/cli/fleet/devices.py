"""``qiloop fleet devices``: the device registry."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, print_json, settings_for
from qiloop.cli.fleet._tables import show_devices


def devices(
    group: Annotated[str | None, typer.Option("--group", help="Only this group.", show_default=False)] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the device registry: groups, running components, last report and status."""
    from qiloop.fleet.registry_db import FleetDB

    found = FleetDB.from_settings(settings_for(home)).devices(group)
    if json_out:
        print_json([d.__dict__ for d in found])
        return
    show_devices(found)
