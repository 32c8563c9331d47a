"""``qiloop labeling users tokens|revoke``: an account's API tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, print_json
from qiloop.cli.label_db import open_database

UserName = Annotated[str, typer.Argument(help="Login name.")]


def users_tokens(username: UserName, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List an account's API tokens (id, name, times; the tokens themselves are never stored)."""
    from qiloop.labeling.tokens import list_tokens

    with open_database(home, must_exist=True)[1].session() as session:
        tokens = list_tokens(session, username)
    rows = [{"id": t.id, "name": t.name, "live": t.live, **{k: _iso(getattr(t, k)) for k in _TIMES}} for t in tokens]
    if json_out:
        print_json(rows)
        return
    table = Table("id", "name", "state", "created", "last used", "expires", "revoked")
    for r in rows:
        state = "live" if r["live"] else Text("ended", style="dim")
        table.add_row(str(r["id"]), r["name"], state, *(r[k] or "-" for k in _TIMES))
    console.print(table)


def users_revoke(
    username: UserName,
    token_id: Annotated[int | None, typer.Option("--id", help="Revoke this token (see `users tokens`).")] = None,
    all_tokens: Annotated[bool, typer.Option("--all", help="Revoke every live token of the account.")] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke one API token (--id) or all of an account's tokens (--all); scripts using them get 401."""
    from qiloop.core.errors import ConfigurationError
    from qiloop.labeling.tokens import revoke_tokens

    if (token_id is None) == (not all_tokens):
        raise ConfigurationError("say which tokens to revoke", hint="give --id N (one token) or --all")
    with open_database(home)[1].session() as session:
        revoked = revoke_tokens(session, username, token_id)
    if json_out:
        print_json({"username": username, "revoked": revoked})
    else:
        console.print(f"revoked {revoked} token(s) of {username}", highlight=False)


_TIMES = ("created_at", "last_used_at", "expires_at", "revoked_at")


def _iso(value) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")
