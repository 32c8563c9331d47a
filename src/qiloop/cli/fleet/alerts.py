"""``qiloop fleet alerts``: what the fleet watcher found wrong — list, check now, resolve."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for

app = typer.Typer(
    help="Fleet alerts (device offline, defect rate, confidence drift, outbox growing, rollout failed). "
    "Without a command: list them.",
    invoke_without_command=True,
)

KINDS = "device_offline, defect_rate, confidence_drift, outbox_growing, rollout_failed"


def _show(alerts, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("id", "opened (UTC)", "kind", "subject", "message", "resolved"):
        table.add_column(column, no_wrap=column in ("id", "opened (UTC)", "kind"))
    for a in alerts:
        style = "red" if a.resolved_at is None else "dim"
        resolved = f"{a.resolved_at:%Y-%m-%d %H:%M} {a.resolution or ''}" if a.resolved_at else "open"
        table.add_row(str(a.id), f"{a.opened_at:%Y-%m-%d %H:%M:%S}", Text(a.kind.value, style=style), a.subject,
                      a.message, resolved)  # fmt: skip
    console.print(table)


def _kind(value: str | None):
    from qiloop.core.errors import ConfigurationError
    from qiloop.fleet.alerts import AlertKind

    if value is None:
        return None
    try:
        return AlertKind(value)
    except ValueError:
        raise ConfigurationError(f"unknown alert kind {value!r}", hint=f"use one of: {KINDS}") from None


@app.callback()
def list_alerts(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only alerts still open.")] = False,
    kind: Annotated[str | None, typer.Option("--kind", help=f"Only this kind ({KINDS}).", show_default=False)] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", help="Only this device id, line:GROUP or rollout:ID.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="The newest N alerts (0: all).")] = 50,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List fleet alerts, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from qiloop.fleet.alerts import AlertStore

    store = AlertStore.from_settings(settings_for(home, must_exist=True))
    try:
        found = store.list(open_only=open_only, kind=_kind(kind), subject=subject, limit=limit)
    finally:
        store.close()
    if json_out:
        print_json([a.to_json() for a in found])
        return
    _show(found, f"{len(found)} alert(s), newest first")


@app.command("check")
def check(
    offline_after: Annotated[
        float | None,
        typer.Option(
            "--offline-after",
            min=1,
            help="Seconds of silence that make a device offline (default: QILOOP_FLEET_OFFLINE_AFTER_S, 120).",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check the fleet once: devices offline, outboxes growing, rollouts aborted; raise and clear alerts.

    The collector (``qiloop collect``) runs these checks continuously, with the
    stream checks (defect rate, confidence drift) that need the live results.
    """
    from qiloop.fleet.registry_db import FleetDB
    from qiloop.fleet.results_db import ResultsDB
    from qiloop.fleet.watch import FleetWatch, WatchRules, build_alerts

    settings = settings_for(home, must_exist=True)
    rules = WatchRules.from_settings(settings)
    if offline_after is not None:
        rules = WatchRules(**{**rules.__dict__, "offline_after_s": offline_after})
    stoppable: list = []
    alerts = build_alerts(settings, on_listener=stoppable.append)
    results, registry = ResultsDB.from_settings(settings), FleetDB.from_settings(settings)
    try:
        opened = FleetWatch(alerts, results, registry, rules).check()
    finally:
        for listener in stoppable:
            listener.stop()
        results.close()
        registry.close()
        alerts.store.close()
    if json_out:
        print_json([a.to_json() for a in opened])
        return
    if not opened:
        console.print("no new alert")
        return
    _show(opened, f"{len(opened)} new alert(s)")


@app.command("resolve")
def resolve(
    alert_id: Annotated[int, typer.Argument(help="The alert's id (`qiloop fleet alerts` lists them).")],
    note: Annotated[str, typer.Option("--note", help="Why it is resolved.")] = "resolved by hand",
    home: HomeOption = None,
) -> None:
    """Resolve an alert (drift and rollout alerts stay open until someone does)."""
    from qiloop.core.errors import NotFoundError
    from qiloop.fleet.alerts import AlertStore

    store = AlertStore.from_settings(settings_for(home, must_exist=True))
    try:
        alert = store.resolve_id(alert_id, note)
    finally:
        store.close()
    if alert is None:
        raise NotFoundError(f"no alert {alert_id}", hint="`qiloop fleet alerts` lists the alerts and their ids")
    console.print(f"alert {alert.id} ({alert.kind.value} on {alert.subject}) resolved: {alert.resolution}")
