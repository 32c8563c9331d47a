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
