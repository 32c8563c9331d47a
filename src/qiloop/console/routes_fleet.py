"""The Fleet pages: devices and rollouts; charts over time of one device or one line (a device group)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from qiloop.console import fleet_view
from qiloop.console.render import render
from qiloop.core.errors import NotFoundError
from qiloop.labeling.api.deps import Principal, admin, verifier

router = APIRouter(include_in_schema=False)
WINDOWS = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


@router.get("/fleet")
async def fleet_page(request: Request, who: Principal = Depends(verifier)) -> Response:
    """Devices (last seen, online, groups, versions, last deployment, newest status) and recent rollouts."""
    sources = request.app.state.console.sources
    fleet = sources.fleet()
    if fleet is None:
        return render(
            request, "console_fleet.html", devices=[], rollouts=[], groups=[], alerts=[], missing=True,
            offline_after=0,
        )  # fmt: skip

    def load():
        return fleet_view.devices(sources), fleet_view.rollouts(fleet), fleet_view.alerts(sources)

    devices, rollouts, alerts = await run_in_threadpool(load)
    groups = sorted({g for d in devices for g in d.row.groups})
    return render(
        request, "console_fleet.html", devices=devices, rollouts=rollouts, groups=groups, alerts=alerts,
        missing=False, offline_after=sources.offline_after_s,
    )  # fmt: skip


@router.get("/fleet/devices/{device_id}")
async def device_page(
    device_id: str, request: Request, window: str = Query(default="24h", max_length=4),
    who: Principal = Depends(verifier),
) -> Response:  # fmt: skip
    """One device: what it runs, its newest status, and charts of what it reported over ``window``."""
    sources = request.app.state.console.sources
    results, span = sources.results(), _window(window)

    def load():
        found = fleet_view.devices(sources)
        device = next((d for d in found if d.row.device_id == device_id), None)
        if device is None:
            return None, [], []
        return device, fleet_view.charts(results, [device_id], span), fleet_view.alerts(sources, device=device_id)

    device, charts, alerts = await run_in_threadpool(load)
    if device is None:
        raise NotFoundError(f"no device {device_id!r} in the fleet", hint="the Fleet page lists the known devices")
    return render(
        request, "console_device.html", device=device, charts=charts, alerts=alerts, window=window, windows=WINDOWS
    )


@router.post("/fleet/alerts/{alert_id}/resolve")
def resolve_alert(
    alert_id: int, request: Request, resolution: str = Form(default="", max_length=500),
    who: Principal = Depends(admin),
) -> Response:  # fmt: skip
    """Close an open alert by hand (as ``qiloop fleet alerts resolve`` does), saying who and why."""
    store = request.app.state.console.sources.alerts()
    found = store.get(alert_id) if store is not None else None
    if found is None:
        raise NotFoundError(f"no alert {alert_id}", hint="the Fleet page lists the alerts")
    note = resolution.strip() or "resolved"
    store.resolve_id(alert_id, f"{note} ({who.username}, console)")
    return RedirectResponse("/fleet#alerts", status_code=303)


@router.get("/fleet/lines/{group}")
async def line_page(
    group: str, request: Request, window: str = Query(default="24h", max_length=4),
    who: Principal = Depends(verifier),
) -> Response:  # fmt: skip
    """One line (a device group): its devices and charts of what they reported together over ``window``."""
    sources = request.app.state.console.sources
    results, span = sources.results(), _window(window)

    def load():
        found = fleet_view.devices(sources)
        members = [d for d in found if group in d.row.groups]
        ids = [d.row.device_id for d in members]
        return members, (fleet_view.charts(results, ids, span) if members else [])

    members, charts = await run_in_threadpool(load)
    if not members:
        raise NotFoundError(f"no device in the group {group!r}", hint="the Fleet page lists the groups")
    return render(
        request, "console_line.html", group=group, members=members, charts=charts, window=window, windows=WINDOWS
    )


def _window(text: str) -> timedelta:
    if text not in WINDOWS:
        from qiloop.core.errors import ConfigurationError

        raise ConfigurationError(f"unknown window {text!r}", hint=f"choose one of {', '.join(WINDOWS)}")
    return WINDOWS[text]
