"""What the ``qiloop labeling users`` commands share: the login-name argument and reading a password."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

UserName = Annotated[str, typer.Argument(help="Login name.")]


def read_password(from_stdin: bool, prompt: str) -> str:
    """The first line of stdin, or a hidden prompt asked twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
