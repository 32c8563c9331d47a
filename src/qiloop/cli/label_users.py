"""``qiloop labeling users``: workforce accounts — add, list, disable, tokens, roles, passwords, unlock."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from qiloop.cli import label_tokens
from qiloop.cli.common import HomeOption, JsonOption, console, print_json
from qiloop.cli.label_db import open_database

app = typer.Typer(help="Workforce accounts: labelers, verifiers, admins.", no_args_is_help=True)
UserName = Annotated[str, typer.Argument(help="Login name.")]


@app.command("add")
def users_add(
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

    password = _password(password_stdin, "password")
    _, db = open_database(home)
    with db.session() as session:
        user = add_user(session, username, password, role)
    if json_out:
        print_json({"id": user.id, "username": user.username, "role": user.role})
    else:
        console.print(Text.assemble(f"added {user.role} ", (user.username, "bold")), highlight=False)


@app.command("ls")
def users_ls(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List accounts with their gold-check accuracy; flagged workers are under the reliability threshold."""
    from qiloop.labeling.workforce import accuracy, list_users

    _, db = open_database(home, must_exist=True)
    with db.session() as session:
        users = list_users(session)
        scores = accuracy(session)
    rows = [
        {
            "username": u.username,
            "role": u.role,
            "disabled": u.disabled,
            "gold_items": scores[u.username].gold_items,
            "mean_f1": scores[u.username].mean_f1,
            "reliability": round(scores[u.username].reliability, 4),
            "flagged": scores[u.username].flagged,
            "created_at": u.created_at.isoformat(),
        }
        for u in users
    ]
    if json_out:
        print_json(rows)
        return
    table = Table("user", "role", "state", "gold", "mean F1", "reliability", "flag")
    for r in rows:
        mean = "-" if r["mean_f1"] is None else f"{r['mean_f1']:.2f}"
        state = "disabled" if r["disabled"] else "active"
        flag = Text("low accuracy", style="red") if r["flagged"] else ""
        table.add_row(r["username"], r["role"], state, str(r["gold_items"]), mean, f"{r['reliability']:.2f}", flag)
    console.print(table)


@app.command("disable")
def users_disable(
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


@app.command("token")
def users_token(
    username: UserName,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "cli",
    home: HomeOption = None,
) -> None:
    """Issue an API token for scripts (Authorization: Bearer ...); it is printed once and never stored."""
    from qiloop.labeling.auth import issue_api_token
    from qiloop.labeling.workforce import active_user

    _, db = open_database(home)
    with db.session() as session:
        token = issue_api_token(session, active_user(session, username), name)
    typer.echo(token)


app.command("tokens")(label_tokens.users_tokens)
app.command("revoke")(label_tokens.users_revoke)


@app.command("role")
def users_role(
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


@app.command("passwd")
def users_passwd(
    username: UserName,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from the first line of stdin.")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set an account's password (asked twice, hidden); the account's browser sessions end."""
    from qiloop.labeling.accounts import set_password

    password = _password(password_stdin, "new password")
    with open_database(home)[1].session() as session:
        ended = set_password(session, username, password)
    if json_out:
        print_json({"username": username, "sessions_ended": ended})
    else:
        console.print(f"password of {username} changed; {ended} browser session(s) ended", highlight=False)


@app.command("unlock")
def users_unlock(username: UserName, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Forget a username's failed password checks, so a throttled login works again at once.

    Limits per client address are not lifted: they run out with their window.
    """
    from qiloop.labeling.throttle import forget

    with open_database(home)[1].session() as session:
        forgotten = forget(session, username)
    if json_out:
        print_json({"username": username, "failures_forgotten": forgotten})
    else:
        console.print(f"forgot {forgotten} failed password check(s) of {username}", highlight=False)


def _password(from_stdin: bool, prompt: str) -> str:
    """The first line of stdin, or a hidden prompt asked twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
