"""``qiloop labeling users tokens``: an account's API tokens."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json
from qiloop.cli.labeling.users._shared import UserName

_TIMES = ("created_at", "last_used_at", "expires_at", "revoked_at")


def tokens(username: UserName, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List an account's API tokens (id, name, times; the tokens themselves are never stored)."""
    from qiloop.labeling.tokens import list_tokens

    with open_database(home, must_exist=True)[1].session() as session:
        found = list_tokens(session, username)
    rows = [{"id": t.id, "name": t.name, "live": t.live, **{k: _iso(getattr(t, k)) for k in _TIMES}} for t in found]
    if json_out:
        print_json(rows)
        return
    table = Table("id", "name", "state", "created", "last used", "expires", "revoked")
    for r in rows:
        state = "live" if r["live"] else Text("ended", style="dim")
        table.add_row(str(r["id"]), r["name"], state, *(r[k] or "-" for k in _TIMES))
    console.print(table)


def _iso(value) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")
