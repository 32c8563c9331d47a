"""``qiloop fleet keys``: the registered device keys, or the devices waiting to join."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, print_json
from qiloop.cli.fleet._shared import fleet_db

# (JSON field, table header) of each column.
KEY_COLUMNS = (("device_id", "device"), ("key_id", "key id"), ("source", "source"), ("added_at", "added"))
PENDING_COLUMNS = (
    ("device_id", "device"),
    ("key_id", "key id"),
    ("public_key", "public key"),
    ("seen_at", "last hello"),
)


def keys(
    pending: Annotated[
        bool, typer.Option("--pending", help="The devices waiting to join instead (not enrolled, said hello).")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the registered device keys: device, key id, how it came (token or admin), when."""
    if pending:
        rows = [(p.device_id, p.key_id, p.public_key, _when(p.seen_at)) for p in fleet_db(home).pending_devices()]
        _show(rows, PENDING_COLUMNS, "no device is waiting to join", json_out)
        return
    rows = [(k.device_id, k.key_id, k.source, _when(k.added_at)) for k in fleet_db(home).device_keys()]
    _show(rows, KEY_COLUMNS, "no device keys registered (qiloop fleet enroll-token or add-key)", json_out)


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _show(rows: list[tuple], columns: tuple[tuple[str, str], ...], empty: str, json_out: bool) -> None:
    """``rows`` as JSON objects keyed by the columns' fields, or as a table under their headers (``empty`` if none)."""
    from rich.table import Table

    if json_out:
        print_json([dict(zip((field for field, _ in columns), row, strict=True)) for row in rows])
        return
    table = Table(*(header for _, header in columns))
    for row in rows:
        table.add_row(*row)
    console.print(table if rows else empty)
