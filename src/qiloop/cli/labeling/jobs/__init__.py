"""``qiloop labeling jobs``: create, list, close, reopen and cancel labelling jobs (one module per command)."""

from __future__ import annotations

import typer

from qiloop.cli.labeling.jobs import cancel, close, create, ls, reopen

app = typer.Typer(help="Labelling jobs.", no_args_is_help=True)
app.command("create")(create.create)
app.command("ls")(ls.ls)
app.command("close")(close.close)
app.command("reopen")(reopen.reopen)
app.command("cancel")(cancel.cancel)
