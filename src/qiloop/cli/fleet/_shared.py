"""What the ``qiloop fleet`` key commands share: the device option and the fleet's database of a home."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import settings_for

DeviceOption = Annotated[str, typer.Option("--device", help="The device id (as qiloop agent run --device-id).")]


def fleet_db(home: Path | None):
    """The fleet database (device registry, keys, rollouts) of the home."""
    from qiloop.fleet.registry_db import FleetDB

    return FleetDB.from_settings(settings_for(home))
