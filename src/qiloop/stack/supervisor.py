"""Run the parts of the stack as child processes: start in stages, wait for health, watch, stop.

Lifecycle: :meth:`Supervisor.start` launches the parts stage by stage (the broker
before the parts that connect to it), each in its own process group, and waits until
each probe answers ready; :meth:`Supervisor.watch` then waits for a stop request or for
a part to end; :meth:`Supervisor.stop` sends SIGTERM to every part's group (the last started first),
gives them one grace period together, kills what is left, and finally kills any process that still carries
the stack's marker.

A part that ends on its own is not restarted: the supervisor reports it (exit code and
the end of its log) and stops the others, so a broken stack is never mistaken for a
working one; the person fixes the cause and runs ``qiloop up`` again.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from qiloop.core.errors import QiloopError
from qiloop.stack import processes
from qiloop.stack.health import Health, Probe
from qiloop.stack.record import RunningPart


@dataclass(frozen=True)
class Part:
    """One process of the stack.

    Args:
        name: Short name (``labeling``, ``dagster-daemon``); its log is ``<name>.log``.
        title: What it is, for people.
        argv: The command line.
        probe: How to tell it is ready.
        url: Where a person reaches it, if anywhere.
        env: Environment on top of the supervisor's.
        stage: Parts of a lower stage are started and ready before the next stage starts.
        start_timeout: Seconds it may take to become ready.
    """

    name: str
    title: str
    argv: tuple[str, ...]
    probe: Probe
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    stage: int = 1
    start_timeout: float = 120.0


class PartFailed(QiloopError):
    """A part ended or never became ready (exit code 1); the message holds the end of its log."""


@dataclass
class _Child:
    part: Part
    process: subprocess.Popen
    log: Path

    @property
    def running(self) -> RunningPart:
        return RunningPart(name=self.part.name, title=self.part.title, url=self.part.url, pid=self.process.pid,
                           log=str(self.log), probe=self.part.probe, argv=list(self.part.argv))  # fmt: skip


class Supervisor:
    """Starts, watches and stops a set of :class:`Part` processes.

    Args:
        parts: The parts, in the order they are listed (and started within a stage).
        log_dir: Where each part's output goes (``<name>.log``, appended).
        stack_id: Marker put in every part's environment to find leftovers.
        env: Base environment of the parts (default: this process's).
        grace: Seconds a part gets between SIGTERM and SIGKILL.
        on_started: Called after each part became ready (to update the stack record).
    """

    def __init__(
        self, parts: Sequence[Part], *, log_dir: Path, stack_id: str, env: Mapping[str, str] | None = None,
        grace: float = 15.0, poll: float = 0.25, on_started: Callable[[list[RunningPart]], None] | None = None,
    ) -> None:  # fmt: skip
        names = [p.name for p in parts]
        if len(set(names)) != len(names):
            raise ValueError(f"part names must be distinct: {names}")
        self.parts, self.log_dir, self.stack_id = list(parts), log_dir, stack_id
        self.env = dict(os.environ if env is None else env)
        self.grace, self.poll, self.on_started = grace, poll, on_started
        self._children: list[_Child] = []
        self._lock = threading.Lock()

    @property
    def running(self) -> list[RunningPart]:
        with self._lock:
            return [child.running for child in self._children]

    def start(self, stop: threading.Event | None = None) -> bool:
        """Start every part, stage by stage, each ready before the next stage begins.

        Returns:
            True when all parts are ready; False when ``stop`` was set meanwhile (the parts
            started so far are left running: call :meth:`stop`).

        Raises:
            PartFailed: A part ended or was not ready within its ``start_timeout``
                (the parts started so far are left running: call :meth:`stop`).
        """
        stop = stop or threading.Event()
        for stage in sorted({p.stage for p in self.parts}):
            batch = [self._spawn(p) for p in self.parts if p.stage == stage]
            if not self._wait_ready(batch, stop):
                return False
        return True

    def watch(self, stop: threading.Event) -> RunningPart | None:
        """Block until ``stop`` is set (None) or a part ends on its own (that part)."""
        while not stop.wait(self.poll):
            for child in list(self._children):
                if child.process.poll() is not None:
                    return child.running
        return None

    def exit_code(self, name: str) -> int | None:
        child = next((c for c in self._children if c.part.name == name), None)
        return None if child is None else child.process.poll()

    def health(self) -> dict[str, Health]:
        """Each started part's probe, now."""
        return {c.part.name: c.part.probe.check() for c in list(self._children)}

    def stop(self) -> dict[str, str]:
        """Stop every started part (SIGTERM to all, last started first; one grace period; then SIGKILL);
        then kill any process still carrying the marker.

        Returns:
            Part name → ``terminated``, ``killed`` or ``gone``; ``leftovers`` when marked processes had to be killed.
        """
        children = list(reversed(self._children))
        stopped = processes.stop_groups({c.process.pid: c.process for c in children}, self.grace)
        outcome = {c.part.name: stopped[c.process.pid] for c in children}
        left = processes.kill_marked(self.stack_id, self.grace)
        if left:
            outcome["leftovers"] = f"killed {len(left)} process(es) that left their group: {left}"
        return outcome

    def describe_failure(self, part: RunningPart, *, lines: int = 15) -> str:
        """What to tell about a part that ended: its exit code and the end of its log."""
        code = self.exit_code(part.name)
        return f"{part.title} ({part.name}) ended with exit code {code}; the end of {part.log}:\n" + tail(
            Path(part.log), lines
        )

    def _spawn(self, part: Part) -> _Child:
        log = self.log_dir / f"{part.name}.log"
        if log.exists():  # keep the last run's log beside, so a probe reads only this run's lines
            log.replace(log.with_suffix(".previous.log"))
        env = {**self.env, **part.env, processes.STACK_ID_VAR: self.stack_id}
        process = processes.spawn(part.argv, env, log)
        if getattr(part.probe, "pid", None) == 0:  # a probe about "this process" learns its pid now
            part = replace(part, probe=part.probe.model_copy(update={"pid": process.pid}))
        child = _Child(part, process, log)
        with self._lock:
            self._children.append(child)
        return child

    def _wait_ready(self, batch: list[_Child], stop: threading.Event) -> bool:
        started = time.monotonic()
        waiting = list(batch)
        last: dict[str, Health] = {}
        while waiting:
            for child in list(waiting):
                code = child.process.poll()
                if code is not None:
                    raise PartFailed(
                        f"{child.part.title} ({child.part.name}) exited with code {code} while starting; "
                        f"the end of {child.log}:\n{tail(child.log)}",
                        hint="fix what its log says, then run qiloop up again",
                    )
                health = last[child.part.name] = child.part.probe.check()
                if health.ok:
                    waiting.remove(child)
                elif time.monotonic() - started > child.part.start_timeout:
                    raise PartFailed(
                        f"{child.part.title} ({child.part.name}) was not ready within "
                        f"{child.part.start_timeout:g} s ({health.detail}); the end of {child.log}:\n{tail(child.log)}",
                        hint="a loaded machine starts slowly: give more time with --start-timeout, or read its log",
                    )
            if not waiting:
                break
            if stop.wait(self.poll):
                return False
        if self.on_started is not None:
            self.on_started(self.running)
        return True


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file (or a note that it cannot be read)."""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16_384))
            text = log.read().decode(errors="replace")
    except OSError as exc:
        return f"(cannot read the log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"
