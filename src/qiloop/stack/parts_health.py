"""What ``qiloop status`` tells about the stack of a home: is ``qiloop up`` running, and how each part is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qiloop.stack import processes
from qiloop.stack.health import Health
from qiloop.stack.record import RunningPart, StackLock, StackRecord, read_record


@dataclass(frozen=True)
class PartHealth:
    """One recorded part: its process alive or not, and its probe's answer."""

    part: RunningPart
    alive: bool
    health: Health

    @property
    def state(self) -> str:
        if not self.alive:
            return "stopped"
        return "ready" if self.health.ok else "not ready"


@dataclass(frozen=True)
class StackHealth:
    """The stack of one home: whether its ``qiloop up`` runs, its record, and each part."""

    running: bool
    record: StackRecord | None
    parts: list[PartHealth] = field(default_factory=list)
    orphans: list[int] = field(default_factory=list)
    """Pids of parts still running after their ``qiloop up`` was killed (the next ``qiloop up`` stops them)."""

    @property
    def healthy(self) -> bool:
        """True when nothing runs, or when every part of the running stack is alive and ready."""
        return not self.running or all(p.alive and p.health.ok for p in self.parts)


def stack_health(home: Path, timeout: float = 2.0) -> StackHealth:
    """Probe the parts a ``qiloop up`` on ``home`` recorded (nothing is probed when it is not running)."""
    record = read_record(home)
    running = StackLock(home).held_elsewhere()
    if record is None:
        return StackHealth(running, record)
    if not running:
        orphans = [p.pid for p in record.parts if processes.alive(p.pid) and processes.runs(p.pid, p.argv)]
        return StackHealth(False, record, orphans=orphans)
    parts = []
    for part in record.parts:
        alive = processes.alive(part.pid)
        health = part.probe.check(timeout) if alive else Health(False, "process ended")
        parts.append(PartHealth(part, alive, health))
    return StackHealth(True, record, parts)
