"""``qiloop labeling db``: the labelling database's schema revision, its migrations and their history.

Every qiloop command that opens the labelling database upgrades it to the
newest revision first; these commands show where it stands, upgrade it on
purpose (before starting several servers on a backend without a migration
lock), or take it back to an older revision.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from qiloop.cli.common import HomeOption, JsonOption, YesOption, console, open_database, print_json

app = typer.Typer(help="The labelling database's schema: revision, upgrade, history.", no_args_is_help=True)

RevisionArg = Annotated[str, typer.Argument(help="A revision id from `qiloop labeling db history`, or head.")]


def _state_json(state) -> dict:
    return {
        "current": state.current,
        "head": state.head,
        "up_to_date": state.up_to_date,
        "known": state.known,
        "unversioned": state.legacy,
    }


def _describe(state) -> str:
    if state.current is None:
        return "unversioned (made before migrations)" if state.legacy else "empty"
    if not state.known:
        return f"{state.current} (unknown to this qiloop: a newer one migrated it)"
    return state.current + (" (head)" if state.up_to_date else f" (head is {state.head})")


def _report(before, after, json_out: bool) -> None:
    if json_out:
        print_json({"before": _state_json(before), "after": _state_json(after)})
    elif before.current == after.current:
        console.print(f"labelling database already at {_describe(after)}", highlight=False)
    else:
        console.print(f"labelling database: {_describe(before)} -> {_describe(after)}", highlight=False)


@app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (default: the newest).")] = "head",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Migrate the schema up to REVISION; a database made before migrations is adopted, keeping its data."""
    _, db = open_database(home, create=False)
    try:
        _report(*db.upgrade(revision), json_out)
    finally:
        db.dispose()


@app.command("downgrade")
def downgrade(
    revision: RevisionArg,
    yes: YesOption = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Migrate the schema back to REVISION; tables and columns of later revisions are dropped with their data."""
    _, db = open_database(home, create=False)
    try:
        if not yes:
            typer.confirm(
                f"take the labelling database back to {revision}, dropping later revisions' data?", abort=True
            )
        _report(*db.downgrade(revision), json_out)
    finally:
        db.dispose()


@app.command("current")
def current(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Show the database's schema revision and the newest one this qiloop knows (exit 1 when they differ)."""
    _, db = open_database(home, create=False, must_exist=True)
    try:
        state = db.schema_state()
    finally:
        db.dispose()
    if json_out:
        print_json(_state_json(state))
    else:
        console.print(f"revision {_describe(state)}", highlight=False)
    if not state.up_to_date:
        raise typer.Exit(1)


@app.command("history")
def history(json_out: JsonOption = False) -> None:
    """List the schema revisions, oldest first."""
    from qiloop.core.errors import require

    require("alembic", "label")
    from qiloop.labeling.migrate import history as revisions

    found = revisions()
    if json_out:
        print_json([{"revision": r.id, "down_revision": r.down, "message": r.message} for r in found])
        return
    table = Table("revision", "after", "what it does")
    for r in found:
        table.add_row(r.id, r.down or "-", r.message)
    console.print(table)
