"""``qiloop labeling users revoke``: end an account's API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json
from qiloop.cli.labeling.users._shared import UserName


def revoke(
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
