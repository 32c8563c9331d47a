"""Where a model came from: the code's git commit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def git_commit(path: str | Path | None = None) -> str | None:
    """The commit checked out at ``path`` (default: qiloop's own source), ``+dirty`` if files changed.

    Returns ``None`` outside a git work tree or without git. Only tracked files
    count as changes; untracked files (outputs, notes) do not.

    Example:
        >>> git_commit("/") is None or True
        True
    """
    git = shutil.which("git")
    if git is None:
        return None
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    if where.is_file():
        where = where.parent

    def run(*args: str) -> str | None:
        try:
            done = subprocess.run([git, "-C", str(where), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "--verify", "HEAD")
    if not commit:
        return None
    changes = run("status", "--porcelain", "--untracked-files=no")
    return f"{commit}+dirty" if changes else commit
