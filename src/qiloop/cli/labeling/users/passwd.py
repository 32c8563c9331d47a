"""``qiloop labeling users passwd``: set an account's password."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json
from qiloop.cli.labeling.users._shared import UserName, read_password


def passwd(
    username: UserName,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from the first line of stdin.")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set an account's password (asked twice, hidden); the account's browser sessions end."""
    from qiloop.labeling.accounts import set_password

    password = read_password(password_stdin, "new password")
    with open_database(home)[1].session() as session:
        ended = set_password(session, username, password)
    if json_out:
        print_json({"username": username, "sessions_ended": ended})
    else:
        console.print(f"password of {username} changed; {ended} browser session(s) ended", highlight=False)
