"""Entry point of the ``qiloop`` command.

Exit codes: 0 success; 1 an operation failed; 2 bad usage or configuration;
3 a needed install extra is missing; 4 invalid input data (some items
rejected); 5 something named does not exist; 6 a storage backend failed.
"""

from __future__ import annotations

import sys

import typer

from qiloop import __version__
from qiloop.cli import agent, broker, demo, edge, evaluate, fleet_results, images, labels, models, serve, synth, train
from qiloop.cli import fleet as fleet_commands
from qiloop.cli import label as label_commands
from qiloop.cli.common import err_console
from qiloop.core.errors import QiloopError

app = typer.Typer(
    name="qiloop",
    help="qiloop: the machine-learning loop for visual quality inspection at the edge.\n\n"
    "Images -> labels -> training -> registry -> signed deployment -> edge inference -> back to labelling.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(images.app, name="images")
app.add_typer(labels.app, name="labels")
app.add_typer(label_commands.app, name="label")
app.add_typer(models.app, name="models")
app.add_typer(fleet_results.results_app, name="results")
app.add_typer(broker.app, name="broker")
app.add_typer(edge.app, name="edge")
app.add_typer(agent.app, name="agent")
app.add_typer(fleet_commands.app, name="fleet")
app.command("deploy")(fleet_commands.deploy)
app.command("evaluate")(evaluate.evaluate)
app.command("train")(train.train)
app.command("synth")(synth.synth)
app.command("demo")(demo.demo)
app.command("collect")(fleet_results.collect)
app.command("serve")(serve.serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qiloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """qiloop command line."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI, turning qiloop errors into a message, a hint and an exit code."""
    try:
        rc = app(args=argv, standalone_mode=False)
    except QiloopError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err_console.print(f"[yellow]hint:[/] {exc.hint}", highlight=False)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors: unknown command or option, missing argument
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err_console.print(f"error: {exc}")
        return getattr(exc, "exit_code", 2)
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
