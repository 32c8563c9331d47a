"""Run component processes: placeholders filled, own process group, restart policy, crash loops.

Each component with a lifecycle command runs as one child process in its own process
group (so a stop reaches everything it started), its output appended to
``<home>/logs/<name>.log``. The supervisor records every child's pid, process group
and start time in ``<home>/processes.json`` before it returns from :meth:`start`: a
nucleus that was killed leaves its children running, and the next nucleus kills them
(:meth:`Supervisor.kill_stale`) before it starts fresh ones, so a component never runs
twice. Stop is SIGTERM to the group, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qiloop.core.components import SETTINGS_ARG, Lifecycle
from qiloop.core.errors import ConfigurationError
from qiloop.edge.agent.home import _write_durably

MARKER = "QILOOP_AGENT_HOME"  # set in every child's environment: whose child it is
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace every ``{name}`` in ``template``; an unknown name is an error, not an empty string.

    Example:
        >>> fill("{python} -m app --model {model_path}", {"python": "py", "model_path": "/m/3"})
        'py -m app --model /m/3'
    """

    def one(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise ConfigurationError(
                f"the lifecycle uses {{{key}}}, which the device does not know",
                hint=f"known placeholders: {', '.join(sorted(values))}",
            )
        return str(values[key])

    return _PLACEHOLDER.sub(one, template)


@dataclass(frozen=True)
class ProcessSpec:
    """One component process, ready to start: filled argument list and environment."""

    name: str
    version: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    lifecycle: Lifecycle

    @classmethod
    def build(
        cls, name: str, version: str, lifecycle: Lifecycle, values: Mapping[str, str], cwd: Path,
        settings: Sequence[str] = (),
    ) -> ProcessSpec:  # fmt: skip
        """Fill the lifecycle's command and environment with ``values``; a ``{settings}`` argument becomes ``settings``.

        Raises:
            ConfigurationError: An unknown placeholder, or ``settings`` for a command without ``{settings}``.
        """
        if settings and SETTINGS_ARG not in lifecycle.command:
            raise ConfigurationError(
                f"the deployment gives {name} settings, but its command takes none",
                hint=f"deploy {name} without settings, or a version whose command has {SETTINGS_ARG}",
            )
        argv = [out for arg in lifecycle.command for out in (settings if arg == SETTINGS_ARG else [fill(arg, values)])]
        env = {key: fill(value, values) for key, value in lifecycle.environment.items()}
        return cls(name, version, argv, env, cwd, lifecycle)


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen
    started: float
    exits: list[float] = field(default_factory=list)  # monotonic times of unexpected exits
    failed: bool = False


def _start_ticks(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against a recycled pid), or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Supervisor:
    """Starts, watches, restarts and stops the component processes of one device.

    Args:
        home: The device home (pid file and logs live there).
        stop_timeout_s: Grace between SIGTERM and SIGKILL.
    """

    def __init__(self, home: Path, *, stop_timeout_s: float = 10.0) -> None:
        self.pid_file = Path(home) / "processes.json"
        self.logs = Path(home) / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.stop_timeout_s = stop_timeout_s
        self.marker = f"{MARKER}={Path(home).resolve()}"
        self.children: dict[str, _Child] = {}

    def kill_stale(self) -> list[int]:
        """Kill the process groups a previous nucleus recorded and left behind; their pids."""
        try:
            recorded = json.loads(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            recorded = {}
        killed = [e["pid"] for e in recorded.values() if e["ticks"] and _start_ticks(e["pid"]) == e["ticks"]]
        killed += [pid for pid in _marked(self.marker) if pid not in killed]  # started but not yet recorded
        for pid in killed:
            _signal_group(pid, signal.SIGKILL)
            _signal(pid, signal.SIGKILL)
        self._record()
        return killed

    def start(self, spec: ProcessSpec) -> None:
        """Start ``spec`` (stopping whatever runs under its name first) and record its pid."""
        self.stop(spec.name)
        self.children[spec.name] = _Child(spec, self._spawn(spec), time.monotonic())
        self._record()

    def _spawn(self, spec: ProcessSpec) -> subprocess.Popen:
        with (self.logs / f"{spec.name}.log").open("ab") as log:
            return subprocess.Popen(
                spec.argv, cwd=spec.cwd, env={**os.environ, **spec.env, MARKER: self.marker.split("=", 1)[1]},
                stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def poll(self) -> list[str]:
        """Reap exited children and restart them by policy; the names that are now failed (crash loop)."""
        now, changed = time.monotonic(), False
        for child in self.children.values():
            if child.failed or child.proc.poll() is None:
                continue
            changed = True
            child.exits.append(now)
            lc = child.spec.lifecycle
            recent = [t for t in child.exits if now - t <= lc.restart_window_s]
            wants = lc.restart == "always" or (lc.restart == "on-failure" and child.proc.returncode != 0)
            if not wants or len(recent) > lc.max_restarts:
                child.failed = True
                continue
            child.proc = self._spawn(child.spec)
            child.started = now
        if changed:
            self._record()
        return [name for name, child in self.children.items() if child.failed]

    def exits_since(self, name: str, since: float) -> int:
        """How often ``name`` exited after the monotonic time ``since``."""
        child = self.children.get(name)
        return 0 if child is None else sum(1 for t in child.exits if t >= since)

    def alive(self, name: str) -> bool:
        child = self.children.get(name)
        return child is not None and not child.failed and child.proc.poll() is None

    def running(self) -> dict[str, str]:
        """name → version of every process currently alive."""
        return {name: c.spec.version for name, c in self.children.items() if c.proc.poll() is None}

    def stop(self, name: str) -> None:
        """SIGTERM the component's process group, SIGKILL it after the grace period."""
        child = self.children.pop(name, None)
        if child is None:
            return
        if child.proc.poll() is None:
            _signal_group(child.proc.pid, signal.SIGTERM)
            try:
                child.proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
        _signal_group(child.proc.pid, signal.SIGKILL)  # anything it left in its group
        self._record()

    def stop_all(self) -> None:
        for name in list(self.children):
            self.stop(name)

    def _record(self) -> None:
        entries = {
            name: {"pid": c.proc.pid, "ticks": _start_ticks(c.proc.pid), "version": c.spec.version}
            for name, c in self.children.items()
            if c.proc.poll() is None
        }
        _write_durably(self.pid_file, json.dumps(entries, sort_keys=True).encode())


def _marked(marker: str) -> list[int]:
    """Pids whose environment carries ``marker`` (children of this home, recorded or not)."""
    needle = b"\0" + marker.encode() + b"\0"
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle in b"\0" + (proc / "environ").read_bytes() + b"\0" and int(proc.name) != os.getpid():
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
