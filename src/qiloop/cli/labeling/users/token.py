"""``qiloop labeling users token``: an API token for scripts."""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, open_database
from qiloop.cli.labeling.users._shared import UserName


def token(
    username: UserName,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
    home: HomeOption = None,
) -> None:
    """Issue an API token for scripts (Authorization: Bearer ...); it is printed once and never stored."""
    from qiloop.labeling.auth import issue_api_token
    from qiloop.labeling.workforce import active_user

    _, db = open_database(home)
    with db.session() as session:
        issued = issue_api_token(session, active_user(session, username), name)
    typer.echo(issued)
