"""``qiloop`` on a device install: the agent and the inference app without the CLI's frameworks.

``pip install 'qiloop[edge]'`` brings neither Typer nor Rich (the cloud extras bring them,
through ``qiloop[cli]``); the ``qiloop`` command then runs :func:`main`, which knows
``qiloop agent run``, ``qiloop agent status`` and ``qiloop edge run`` with the full CLI's
options, prints plain text, and exits with qiloop's exit codes (2 bad usage or
configuration, 3 a missing extra, 4 an altered package, 5 not found). Any other
command exits 3 and names the extra that brings it.
"""

from __future__ import annotations

import errno
import sys

from qiloop.core.errors import MissingDependencyError, QiloopError
from qiloop.edge.commands.parser import DEVICE_COMMANDS, build_parser


def _first_command(argv: list[str]) -> str | None:
    """The first word that is not an option (nor the value of the root's ``--home``)."""
    words = iter(argv)
    for word in words:
        if word == "--home":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _report(message: str, hint: str | None, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run one device command; qiloop errors become a message, a hint and an exit code."""
    from qiloop.edge.commands import actions

    argv = sys.argv[1:] if argv is None else list(argv)
    command = _first_command(argv)
    if command is not None and command not in DEVICE_COMMANDS:
        return _report(
            f"`qiloop {command}` is not a command of the device install, which has only {', '.join(DEVICE_COMMANDS)}",
            "the whole command line comes with the cloud extras: pip install 'qiloop[cli]'",
            MissingDependencyError.exit_code,
        )
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse printed it)
        return exc.code if isinstance(exc.code, int) else 2
    run = {("agent", "run"): actions.agent_run, ("agent", "status"): actions.agent_status,
           ("edge", "run"): actions.edge_run}[(args.group, args.command)]  # fmt: skip
    try:
        return run(args)
    except QiloopError as exc:
        return _report(exc.message, exc.hint, exc.exit_code)
    except OSError as exc:  # a file the user named: exit 5 when it is missing, else 2
        if exc.filename is None:
            raise
        message = f"{exc.filename}: {exc.strerror or type(exc).__name__}"
        return _report(message, "check the path and its permissions", 5 if exc.errno == errno.ENOENT else 2)
