"""Entry point of the ``qiloop`` command.

Exit codes: 0 success; 1 an operation failed; 2 bad usage or configuration;
3 a needed install extra is missing; 4 invalid input data (some items
rejected); 5 something named does not exist; 6 a storage backend failed.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import typer

from qiloop import __version__
from qiloop.cli import (
    agent,
    broker,
    collect,
    demo,
    deploy,
    edge,
    evaluate,
    fleet,
    images,
    labeling,
    labels,
    models,
    pretrain,
    results,
    serve,
    status,
    synth,
    train,
    up,
)
from qiloop.cli.common import err_console, print_error
from qiloop.core.errors import ConfigurationError, NotFoundError, QiloopError

app = typer.Typer(
    name="qiloop",
    help="qiloop: the machine-learning loop for visual quality inspection at the edge.\n\n"
    "Images -> labels -> training -> registry -> signed deployment -> edge inference -> back to labelling.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(images.app, name="images")
app.add_typer(labels.app, name="labels")
app.add_typer(labeling.app, name="labeling")
app.add_typer(labeling.app, name="label", hidden=True)  # the name before 0.2, kept working
app.add_typer(models.app, name="models")
app.add_typer(results.app, name="results")
app.add_typer(broker.app, name="broker")
app.add_typer(edge.app, name="edge")
app.add_typer(agent.app, name="agent")
app.add_typer(fleet.app, name="fleet")
app.command("deploy")(deploy.deploy)
app.command("evaluate")(evaluate.evaluate)
app.command("train")(train.train)
app.command("pretrain")(pretrain.pretrain)
app.command("synth")(synth.synth)
app.command("demo")(demo.demo)
app.command("collect")(collect.collect)
app.command("serve")(serve.serve)
app.command("up")(up.up)
app.command("status")(status.status)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qiloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    home: Path | None = typer.Option(
        None,
        "--home",
        help="qiloop home folder for every command (default QILOOP_HOME, then ./.qiloop); a command's --home wins.",
        show_default=False,
    ),
) -> None:
    """qiloop command line."""


# What an OS error about a file the user named means for them: (exit code 2 or 5, what to do).
_FILE_ERRORS = {
    errno.ENOENT: (NotFoundError, "check the path (relative paths start in the current folder)"),
    errno.EACCES: (ConfigurationError, "make it readable for this user, or give another path"),
    errno.EPERM: (ConfigurationError, "make it readable for this user, or give another path"),
    errno.EISDIR: (ConfigurationError, "give the path of a file, not of a folder"),
    errno.ENOTDIR: (ConfigurationError, "a part of the path is a file, not a folder: check the path"),
    errno.ENAMETOOLONG: (ConfigurationError, "give a shorter path"),
    errno.ELOOP: (ConfigurationError, "the path runs through a loop of symbolic links: give the real path"),
}


def file_error(exc: OSError) -> QiloopError | None:
    """The qiloop error for an OS error about a named file, or None when it names no file.

    Only an :class:`OSError` carrying a file name is translated: anything else
    is a fault in qiloop and keeps its traceback.
    """
    if exc.filename is None:
        return None
    message = f"{exc.filename}: {exc.strerror or type(exc).__name__}"
    kind, hint = _FILE_ERRORS.get(exc.errno, (QiloopError, "check the file and the disk it is on, then try again"))
    return kind(message, hint=hint)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI, turning qiloop errors into a message, a hint and an exit code."""
    try:
        rc = app(args=argv, standalone_mode=False)
    except QiloopError as exc:
        return print_error(exc)
    except OSError as exc:
        translated = file_error(exc)
        if translated is None:
            raise
        return print_error(translated)
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
