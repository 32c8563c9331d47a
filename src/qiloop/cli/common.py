"""What every CLI command shares: the console, settings, and error translation.

Commands stay thin: parse arguments, build settings, call a library function,
print the result. Heavy modules are imported inside the command functions so
``qiloop --help`` stays fast and the device install needs none of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from qiloop.cli.home import resolve_settings
from qiloop.core.errors import QiloopError
from qiloop.settings import Settings

# User-facing text (file names, job names, error messages, hints such as ``qiloop[registry]``) is
# never read as rich markup: styling is given explicitly (``style=``, ``rich.text.Text``).
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="qiloop home folder (default: qiloop --home, then QILOOP_HOME, then ./.qiloop).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
FleetDbOption = Annotated[
    Path | None, typer.Option("--db", help="The fleet database (default <home>/fleet.db).", show_default=False)
]
YesOption = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]
ListenHostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
ListenPortOption = Annotated[int, typer.Option("--port", help="TCP port to listen on.", min=0, max=65535)]
LabelFormatOption = Annotated[
    str | None,
    typer.Option(
        "--format", help="labels-csv, groundtruth, coco or yolo (default: from the file).", show_default=False
    ),
]
PrefixOption = Annotated[str, typer.Option("--prefix", help="Reference prefix replaced by --images-root.")]
# The default of --prefix: labelstore.formats.labels_csv.REFERENCE_PREFIX, written out so ``--help`` imports no store.
REFERENCE_PREFIX = "s3://${bucket}/pipeline/assets/"


def settings_for(home: Path | None, *, must_exist: bool = False) -> Settings:
    """Settings for a command: its ``--home``, else the root's ``--home``, else QILOOP_HOME / qiloop.toml.

    A command that only reads passes ``must_exist=True``: a missing home is then
    a :class:`~qiloop.core.errors.NotFoundError` naming the homes nearby, not a new empty home.
    """
    return resolve_settings(home, must_exist=must_exist)


def open_database(home: Path | None, *, create: bool = True, must_exist: bool = False):
    """The home folder's settings and its labelling database (needs the ``label`` extra).

    ``create`` brings the schema to the newest revision on opening; the ``labeling db`` commands open without it.
    ``must_exist`` refuses a home folder that is not there (for commands that only read).
    """
    from qiloop.core.errors import require

    require("sqlalchemy", "label")
    from qiloop.labeling.db import Database

    settings = settings_for(home, must_exist=must_exist)
    return settings, Database.from_url(settings.labeling_db_url, create=create)


def user_file(path: Path, *, what: str = "file", folder_ok: bool = False) -> Path:
    """Check a path the user gave before reading it: it exists and is a regular file (or a folder).

    Raises:
        NotFoundError: Nothing is at ``path``.
        ConfigurationError: It is a folder where a file is needed, or a device, FIFO or socket.
    """
    from qiloop.core.errors import ConfigurationError, NotFoundError

    if not path.exists():
        raise NotFoundError(f"no {what} at {path}", hint="check the path (relative paths start in the current folder)")
    if path.is_dir():
        if folder_ok:
            return path
        raise ConfigurationError(f"{path} is a folder, not a {what}", hint="give the path of the file itself")
    if not path.is_file():
        raise ConfigurationError(
            f"{path} is not a regular file (a device, FIFO or socket)", hint=f"give the path of a {what} on disk"
        )
    return path


def print_error(exc: QiloopError) -> int:
    """Print an error and its hint to stderr, literally (a hint such as ``qiloop[registry]`` stays whole).

    Returns:
        The error's exit code.
    """
    err_console.print(Text.assemble(("error:", "bold red"), " ", exc.message), highlight=False, soft_wrap=True)
    if exc.hint:
        err_console.print(Text.assemble(("hint:", "yellow"), " ", exc.hint), highlight=False, soft_wrap=True)
    return exc.exit_code


def print_json(data: Any) -> None:
    """Print JSON to stdout without rich markup (safe to pipe)."""
    typer.echo(json.dumps(data, indent=2, default=str))


def parse_time(text: str):
    """Parse ``--as-of``: ISO 8601 (``2022-07-07T13:00:00Z``) or Unix seconds."""
    from datetime import datetime, timezone

    from qiloop.core.errors import ConfigurationError
    from qiloop.core.records import utc

    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except ValueError:
        pass
    try:
        return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as exc:
        raise ConfigurationError(
            f"cannot read the time {text!r}",
            hint="give ISO 8601 such as 2022-07-07T13:00:00Z, or Unix seconds such as 1657199072",
        ) from exc


def as_of_arg(as_of: str | None, version: int | None):
    """Combine ``--as-of`` and ``--store-version`` into the label store's ``as_of``."""
    from qiloop.core.errors import ConfigurationError

    if as_of is not None and version is not None:
        raise ConfigurationError(
            "give --as-of or --store-version, not both", hint="one names a time, the other a label-store table version"
        )
    return version if version is not None else (parse_time(as_of) if as_of is not None else None)


def result_line(result) -> Text:
    """One line per inspection result: time, device, image, verdict, scores, latency, model version."""
    from qiloop.registry.refs import format_ref

    scores = ", ".join(f"{d.score:.2f}" for d in result.detections) or "-"
    return Text.assemble(
        f"{result.time:%H:%M:%S} ",
        (result.device_id, "bold"),
        f" #{result.sequence} {result.image_name} ",
        (result.verdict, "red" if result.verdict == "fail" else "green"),
        f" scores [{scores}] {result.latency_ms:.0f} ms ",
        (format_ref(result.model_name, result.model_version), "dim"),
    )
