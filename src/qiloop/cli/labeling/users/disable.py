"""``qiloop labeling users disable``: stop (or restart) an account."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, console, open_database
from qiloop.cli.labeling.users._shared import UserName


def disable(
    username: UserName,
    enable: Annotated[bool, typer.Option("--enable", help="Enable the account again instead.")] = False,
    home: HomeOption = None,
) -> None:
    """Disable an account: its password, API tokens and sessions stop working at once."""
    from qiloop.labeling.workforce import set_disabled

    _, db = open_database(home)
    with db.session() as session:
        user = set_disabled(session, username, disabled=not enable)
    console.print(f"{user.username} is {'disabled' if user.disabled else 'enabled'}", highlight=False)
