"""``qiloop fleet keys``: the registered device keys, or the devices waiting to join."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, print_json
from qiloop.cli.fleet._shared import fleet_db


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
        _show_pending(fleet_db(home).pending_devices(), json_out)
        return
    found = fleet_db(home).device_keys()
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
