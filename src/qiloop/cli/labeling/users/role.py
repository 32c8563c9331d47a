"""``qiloop labeling users role``: change an account's role."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, open_database, print_json
from qiloop.cli.labeling.users._shared import UserName


def role(
    username: UserName,
    role: Annotated[str, typer.Argument(help="labeler, verifier or admin.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Change an account's role (the last enabled admin keeps theirs)."""
    from qiloop.labeling.accounts import set_role

    with open_database(home)[1].session() as session:
        user = set_role(session, username, role)
    if json_out:
        print_json({"username": user.username, "role": user.role})
    else:
        console.print(f"{user.username} is now a {user.role}", highlight=False)
