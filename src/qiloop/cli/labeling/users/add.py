"""``qiloop labeling users add``: a new worker account."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json
from qiloop.cli.labeling.users._shared import UserName, read_password


def add(
    username: UserName,
    role: Annotated[str, typer.Option("--role", help="labeler, verifier or admin.")] = "labeler",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a worker account (the password is asked for, or read from stdin)."""
    from qiloop.labeling.workforce import add_user

    password = read_password(password_stdin, "password")
    _, db = open_database(home)
    with db.session() as session:
        user = add_user(session, username, password, role)
    if json_out:
        print_json({"id": user.id, "username": user.username, "role": user.role})
    else:
        console.print(Text.assemble(f"added {user.role} ", (user.username, "bold")), highlight=False)
