"""Child processes of the stack: start each in its own process group, stop the group, find leftovers.

Every part runs in a new session (so its own process group): a Ctrl-C in the terminal
reaches ``qiloop up`` alone, which then stops the parts in order, and stopping a part
stops what it spawned (uvicorn workers, Dagster's code server) with it. Each part also
carries a marker in its environment (``QILOOP_STACK_ID``); on Linux :func:`marked` finds
every process that inherited it, even one that left its group, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

STACK_ID_VAR = "QILOOP_STACK_ID"
_PROC = Path("/proc")


def spawn(argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """Start ``argv`` in a new session with its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _PROC / str(pid) / "stat"
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def runs(pid: int, argv: Sequence[str]) -> bool:
    """Whether process ``pid`` runs the command line ``argv`` (not another program that reused the pid).

    Where ``/proc`` is missing the pid alone has to do.
    """
    try:
        cmdline = (_PROC / str(pid) / "cmdline").read_bytes()
    except FileNotFoundError:
        return not _PROC.is_dir()
    except OSError:
        return False
    return cmdline.rstrip(b"\0").split(b"\0") == [os.fsencode(a) for a in argv]


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to every process of group ``pgid``; False when the group is gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is left (zombies of a reaped leader aside)."""
    if _PROC.is_dir():
        return any(_pgid(pid) == pgid and alive(pid) for pid in _pids())
    return signal_group(pgid, 0)


def stop_group(pgid: int, grace: float, process: subprocess.Popen | None = None) -> str:
    """Terminate a process group, wait up to ``grace`` seconds, then kill what is left.

    Returns:
        ``"terminated"`` when SIGTERM sufficed, ``"killed"`` when SIGKILL was needed,
        ``"gone"`` when nothing of the group was running.
    """
    return stop_groups({pgid: process}, grace)[pgid]


def stop_groups(groups: Mapping[int, subprocess.Popen | None], grace: float) -> dict[int, str]:
    """Terminate several process groups at once (in the order given), then kill what is left after ``grace``.

    All groups share one grace period, so stopping the whole stack takes one grace at most, not one per part.

    Returns:
        Group id → ``"terminated"``, ``"killed"`` or ``"gone"`` (see :func:`stop_group`).
    """
    outcome = {pgid: "terminated" if signal_group(pgid, signal.SIGTERM) else "gone" for pgid in groups}
    waiting = [pgid for pgid, how in outcome.items() if how == "terminated"]
    deadline = time.monotonic() + grace
    while waiting and time.monotonic() < deadline:
        for pgid in groups:
            _reap(groups[pgid])
        waiting = [pgid for pgid in waiting if group_alive(pgid)]
        if waiting:
            time.sleep(0.05)
    for pgid in waiting:
        signal_group(pgid, signal.SIGKILL)
        outcome[pgid] = "killed"
    deadline = time.monotonic() + 5.0
    while waiting and time.monotonic() < deadline:
        for pgid in groups:
            _reap(groups[pgid])
        waiting = [pgid for pgid in waiting if group_alive(pgid)]
        if waiting:
            time.sleep(0.05)
    for process in groups.values():
        _reap(process)
    return outcome


def marked(stack_id: str) -> list[int]:
    """Processes (other than this one) whose environment carries ``QILOOP_STACK_ID=stack_id`` (Linux only)."""
    needle = f"{STACK_ID_VAR}={stack_id}".encode()
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            environ = (_PROC / str(pid) / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and alive(pid):
            found.append(pid)
    return found


def kill_marked(stack_id: str, grace: float = 5.0) -> list[int]:
    """Terminate, then kill, every process carrying the stack's marker; the pids that were found."""
    pids = marked(stack_id)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return pids


def _reap(process: subprocess.Popen | None) -> None:
    if process is not None:
        process.poll()


def _pids() -> list[int]:
    try:
        return [int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None
