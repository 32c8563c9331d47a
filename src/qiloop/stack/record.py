"""What ``qiloop up`` runs, written under the home (``stack/up.json``) and guarded by a lock file.

``stack/up.lock`` is held (``flock``) by the ``qiloop up`` process for as long as it
runs: the operating system releases it when that process ends, however it ends, so a
lock is never stale. A second ``qiloop up`` on the same home finds it held and is
refused; ``qiloop status`` reads ``up.json`` and tests the lock to tell a running stack
from the record of one that stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.errors import ConfigurationError
from qiloop.stack.health import Probe

STACK_FOLDER = "stack"


class RunningPart(BaseModel):
    """One started part: where it listens, its process, its log and how to probe it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    title: str
    url: str | None = None
    pid: int
    log: str
    probe: Probe
    argv: list[str] = Field(default_factory=list)


class StackRecord(BaseModel):
    """The stack of one home as its ``qiloop up`` wrote it."""

    model_config = ConfigDict(extra="ignore")

    stack_id: str
    pid: int
    home: str
    host: str
    started_at: datetime
    state: Literal["starting", "running", "stopping", "stopped", "failed"] = "starting"
    parts: list[RunningPart] = Field(default_factory=list)
    external: dict[str, str] = Field(default_factory=dict, description="Parts run elsewhere: name → URL.")


class StackRunningError(ConfigurationError):
    """A ``qiloop up`` already runs on this home (exit code 2: refused)."""


def stack_folder(home: Path) -> Path:
    return home / STACK_FOLDER


def write_record(home: Path, record: StackRecord) -> None:
    """Replace ``up.json`` atomically (a reader sees the old record or the new one, never half)."""
    folder = stack_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".up.json.{os.getpid()}"
    temporary.write_text(record.model_dump_json(indent=2))
    temporary.replace(folder / "up.json")


def read_record(home: Path) -> StackRecord | None:
    """The last record written on this home, or None when ``qiloop up`` never ran here (or it is unreadable)."""
    try:
        return StackRecord.model_validate(json.loads((stack_folder(home) / "up.json").read_text()))
    except (OSError, ValueError):
        return None


class StackLock:
    """The lock that makes ``qiloop up`` one per home.

    Example:
        >>> with StackLock(Path("/tmp/home")):  # doctest: +SKIP
        ...     ...  # a second StackLock(...).acquire() on that home raises StackRunningError
    """

    def __init__(self, home: Path) -> None:
        self.path = stack_folder(home) / "up.lock"
        self._fd: int | None = None

    def acquire(self) -> StackLock:
        """Take the lock, or refuse when another process holds it.

        Raises:
            StackRunningError: A ``qiloop up`` on this home holds it (its pid is named when known).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _holder(self.path)
            raise StackRunningError(
                f"qiloop up is already running on this home{f' (pid {holder})' if holder else ''}",
                hint="`qiloop status` shows what runs where; stop that one (Ctrl-C, or kill -TERM its pid) first, "
                "or give another --home",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """Whether another process holds the lock now (tests it without keeping it)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing drops a lock this test took
        return False

    def __enter__(self) -> StackLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip() or 0) or None
    return None
