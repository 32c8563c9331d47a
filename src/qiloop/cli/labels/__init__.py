"""``qiloop labels``: import, export and query the versioned label store (one module per command)."""

from __future__ import annotations

import typer

from qiloop.cli.labels import export, history, import_, ls, snapshot, stats, versions

app = typer.Typer(
    help="The label store: an append-only, versioned history of every label, with point-in-time reads.",
    no_args_is_help=True,
)
app.command("import")(import_.import_)
app.command("ls")(ls.ls)
app.command("snapshot")(snapshot.snapshot)
app.command("versions")(versions.versions)
app.command("stats")(stats.stats)
app.command("export")(export.export)
app.command("history")(history.history)
