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

from qiloop.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="QILOOP_HOME", help="qiloop home folder (default ./.qiloop).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


def settings_for(home: Path | None) -> Settings:
    """Settings for a command, with ``--home`` taking precedence."""
    return load_settings(home=home) if home is not None else load_settings()


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
    """Combine ``--as-of`` and ``--version`` into the label store's ``as_of``."""
    from qiloop.core.errors import ConfigurationError

    if as_of is not None and version is not None:
        raise ConfigurationError(
            "give --as-of or --version, not both", hint="one names a time, the other a table version"
        )
    return version if version is not None else (parse_time(as_of) if as_of is not None else None)
