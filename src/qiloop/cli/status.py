"""``qiloop status``: each part of the local stack and the loop's state, read-only."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for

_STATE_STYLES = {"ready": "green", "not ready": "yellow", "stopped": "red"}


def status(
    model: Annotated[
        str | None, typer.Option("--model", help="Registered model to report (default scratch-detector).")
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show whether qiloop up runs on this home, each part's health, and where the loop stands.

    The loop's state: images waiting for labels (and sent back by devices), open labelling jobs, labels approved
    since the last training, the production model, and the devices with the versions they run. Nothing is changed
    or created. Exit code 0 when every part of a running stack is ready (or none runs), 1 when a part is down,
    5 when the home does not exist.
    """
    from qiloop.stack.loop_state import loop_state
    from qiloop.stack.parts_health import stack_health

    settings = settings_for(home, must_exist=True)
    stack = stack_health(settings.home)
    state = loop_state(settings, model)
    if json_out:
        print_json(
            {
                "home": str(settings.home),
                "running": stack.running,
                "stack_state": stack.record.state if stack.record else None,
                "parts": [_part_json(p) for p in stack.parts],
                "external": stack.record.external if stack.record else {},
                "orphans": stack.orphans,
                "loop": state.as_dict(),
            }
        )
    else:
        _print_stack(settings.home, stack)
        _print_loop(state)
    if not stack.healthy:
        raise typer.Exit(1)


def _part_json(p) -> dict:
    return {"name": p.part.name, "url": p.part.url, "pid": p.part.pid, "state": p.state, "detail": p.health.detail}


def _print_stack(home, stack) -> None:
    if not stack.running:
        last = f" (last run: {stack.record.state}, started {stack.record.started_at:%Y-%m-%d %H:%M} UTC)" if (
            stack.record) else ""  # fmt: skip
        console.print(f"qiloop up is not running on {home}{last}", highlight=False, soft_wrap=True)
        if stack.orphans:
            console.print(f"parts of a qiloop up that was killed still run: pids {stack.orphans}; the next qiloop "
                          "up on this home stops them", style="yellow", highlight=False, soft_wrap=True)  # fmt: skip
        return
    table = Table("part", title=f"qiloop up on {home} (pid {stack.record.pid})")
    table.add_column("URL", no_wrap=True)
    for column in ("pid", "state", "detail"):
        table.add_column(column)
    for p in stack.parts:
        table.add_row(p.part.name, p.part.url or "-", str(p.part.pid), Text(p.state, style=_STATE_STYLES[p.state]),
                      p.health.detail)  # fmt: skip
    for name, url in stack.record.external.items():
        table.add_row(name, url, "-", Text("external", style="dim"), "configured, runs elsewhere")
    console.print(table)


def _print_loop(state) -> None:
    table = Table("stage", "state", title="the loop", show_header=False)
    table.add_row("images", f"{state.images} stored, {state.images_waiting} waiting for labels")
    table.add_row("feedback", f"{state.feedback_waiting} image(s) sent back by devices, waiting")
    jobs = ", ".join(f"{j.name} ({j.approved}/{j.images} approved)" for j in state.jobs_open)
    table.add_row("labelling jobs", f"{len(state.jobs_open)} open" + (f": {jobs}" if jobs else ""))
    since = f"last training: {state.last_trained}" if state.last_trained else "no training yet"
    table.add_row("labels", f"{state.approved_labels} approved, {state.labels_since_training} since the last "
                  f"training ({since})")  # fmt: skip
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(state.production_metrics.items())[:4])
    table.add_row("production", (state.production or "none approved") + (f" ({metrics})" if metrics else ""))
    devices = "; ".join(
        f"{d.device_id} [{', '.join(f'{n} {v}' for n, v in sorted(d.running.items())) or 'nothing'}] "
        f"seen {max(0.0, time.time() - d.seen_at):.0f} s ago"
        for d in state.devices
    )
    table.add_row("devices", f"{len(state.devices)}" + (f": {devices}" if devices else ""))
    for name, why in state.unavailable.items():
        table.add_row(Text(name, style="red"), Text(f"unavailable: {why}", style="red"))
    console.print(table)
