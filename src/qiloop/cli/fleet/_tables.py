"""Tables for ``qiloop fleet status``, ``qiloop fleet devices`` and ``qiloop deploy --wait``."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text

from qiloop.cli.common import console

_COLOURS = {"SUCCEEDED": "green", "ABORTED": "red", "SUPERSEDED": "dim"}


def _ago(at: float | None) -> str:
    if at is None:
        return "-"
    seconds = max(0.0, time.time() - at)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def show_rollouts(rollouts) -> None:
    """One row per rollout: target, components, phase, canaries, outcome counts, reason."""
    table = Table("rollout", "target", "components", "phase", "canaries", "devices", "reason", title="rollouts")
    for r in rollouts:
        counts: dict[str, int] = {}
        for state in r.outcome.values():
            counts[state] = counts.get(state, 0) + 1
        outcome = ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())) or "-"
        colour = _COLOURS.get(r.phase.value, "yellow")
        table.add_row(
            r.id[:8], str(r.target), ", ".join(_component(r, c) for c in r.components),
            Text(r.phase.value, style=colour), ", ".join(r.canaries) or "-", f"{len(r.devices)}: {outcome}",
            r.reason[:100],
        )  # fmt: skip
    console.print(table)


def _component(rollout, ref) -> str:
    """``name version``, and the settings the rollout gives its app."""
    settings = rollout.settings(ref.name)
    return f"{ref.name} {ref.version}" + (f" ({' '.join(settings)})" if settings else "")


def show_devices(devices) -> None:
    """One row per device: groups, running set, last deployment report, last status, last seen."""
    table = Table("device", "groups", "running", "last deployment", "status", "seen", title="devices")
    for d in devices:
        running = ", ".join(f"{n} {v}" for n, v in sorted(d.running.items())) or "-"
        report = f"{d.report_state} ({(d.report_deployment or '')[:8]})" if d.report_state else "-"
        status = f"{d.status_state} {_ago(d.status_at)}" if d.status_state else "-"
        table.add_row(d.device_id, ", ".join(d.groups) or "-", running, report, status, _ago(d.seen_at))
    console.print(table)
