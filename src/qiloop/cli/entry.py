"""The ``qiloop`` command: the whole Typer CLI where its frameworks are installed, the device's commands where not.

The cloud extras install Typer and Rich (through ``qiloop[cli]``); ``qiloop[edge]`` alone does
not, to keep a device's install small. There the same command runs
:mod:`qiloop.edge.commands`: ``qiloop agent run|status`` and ``qiloop edge run`` with the
same options, and a message naming the extra for anything else.
"""

from __future__ import annotations

import importlib.util
import sys


def has_cli_frameworks() -> bool:
    """Whether Typer, Rich and pydantic-settings (what the whole CLI imports) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("typer", "rich", "pydantic_settings"))


def main(argv: list[str] | None = None) -> int:
    """Run ``qiloop`` with ``argv`` (default: the process's arguments); the exit code."""
    if has_cli_frameworks():
        from qiloop.cli.main import main as run
    else:
        from qiloop.edge.commands import main as run
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
