"""``qiloop up`` as a library call: lock the home, check ports, start the parts, watch, stop them all.

The CLI parses options into :class:`~qiloop.stack.plan.StackOptions`, sets ``stop``
from its signal handlers and prints what :func:`run_stack` reports; everything else
happens here, so a test or another program can run the stack the same way.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from qiloop.settings import Settings
from qiloop.stack import processes
from qiloop.stack.health import Health
from qiloop.stack.plan import StackOptions, plan_stack, prepare_dagster_home
from qiloop.stack.ports import check_free
from qiloop.stack.record import RunningPart, StackLock, StackRecord, read_record, stack_folder, write_record
from qiloop.stack.supervisor import PartFailed, Supervisor


@dataclass(frozen=True)
class StackOutcome:
    """How a run of the stack ended: stopped on request, or a part ended on its own (``failed``)."""

    failed: RunningPart | None = None
    detail: str = ""
    stopped: dict[str, str] = field(default_factory=dict)
    leftovers: list[int] = field(default_factory=list)


def run_stack(
    settings: Settings,
    options: StackOptions,
    stop: threading.Event,
    *,
    on_ready: Callable[[StackRecord, dict[str, Health]], None] | None = None,
    on_stopping: Callable[[str], None] | None = None,
) -> StackOutcome:
    """Run the local stack of ``settings.home`` until ``stop`` is set or a part ends.

    Args:
        settings: Settings with an absolute ``home``.
        options: Interface, ports, parts left out, start timeout.
        stop: Set it (from a signal handler) to stop every part and return.
        on_ready: Called once every part is ready, with the record and each part's health.
        on_stopping: Called when stopping begins, with the reason.

    Raises:
        StackRunningError: A ``qiloop up`` already runs on this home (exit code 2).
        ConfigurationError: A port is taken, or options do not fit together (exit code 2).
        MissingDependencyError: A part's install extra is missing (exit code 3).
        PartFailed: A part ended or was not ready while starting (exit code 1); every part is stopped first.
    """
    home = settings.home
    with StackLock(home):
        leftovers = _stop_leftovers(home)
        plan = plan_stack(settings, options)
        check_free(options.host, plan.ports)
        if any(p.name.startswith("dagster") for p in plan.parts):
            prepare_dagster_home(home)
        record = StackRecord(stack_id=uuid.uuid4().hex, pid=os.getpid(), home=str(home), host=options.host,
                             started_at=datetime.now(timezone.utc), external=plan.external)  # fmt: skip
        write_record(home, record)

        def started(parts: list[RunningPart]) -> None:
            record.parts = parts
            write_record(home, record)

        supervisor = Supervisor(plan.parts, log_dir=stack_folder(home) / "logs", stack_id=record.stack_id,
                                env={**os.environ, **plan.env}, on_started=started)  # fmt: skip
        failed, detail, state = None, "", "stopped"
        try:
            try:
                ready = supervisor.start(stop)
            except PartFailed:
                state = "failed"
                raise
            if ready:
                record.state = "running"
                write_record(home, record)
                if on_ready is not None:
                    on_ready(record, supervisor.health())
                failed = supervisor.watch(stop)
                if failed is not None:
                    state, detail = "failed", supervisor.describe_failure(failed)
        finally:
            record.parts, record.state = supervisor.running, "stopping"
            write_record(home, record)
            if on_stopping is not None:
                on_stopping("a part failed" if state == "failed" else "stop requested")
            stopped = supervisor.stop()
            record.state = state
            write_record(home, record)
    return StackOutcome(failed, detail, stopped, leftovers)


def _stop_leftovers(home) -> list[int]:
    """Processes of an earlier ``qiloop up`` on this home that was killed before it could stop them."""
    previous = read_record(home)
    if previous is None or previous.state == "stopped":
        return []
    return processes.kill_marked(previous.stack_id)
