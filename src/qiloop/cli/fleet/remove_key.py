"""``qiloop fleet remove-key``: forget a device's key."""

from __future__ import annotations

from qiloop.cli.common import HomeOption, console
from qiloop.cli.fleet._shared import DeviceOption, fleet_db


def remove_key(device: DeviceOption, home: HomeOption = None) -> None:
    """Forget a device's key: its messages are dropped until it enrolls again."""
    from qiloop.core.errors import NotFoundError

    if not fleet_db(home).remove_device_key(device):
        raise NotFoundError(f"device {device!r} has no registered key", hint="qiloop fleet keys lists them")
    console.print(f"{device}: key removed", highlight=False)
