"""The Models pages: versions over time, one version's gate figures and lineage, and approve / reject for admins."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from qiloop.console import models_view
from qiloop.console.render import render
from qiloop.core.errors import NotFoundError
from qiloop.labeling.api.deps import Principal, admin, verifier

router = APIRouter(include_in_schema=False)


def _registry(request: Request):
    registry = request.app.state.console.sources.registry()
    if registry is None:
        raise NotFoundError("no model registry yet", hint="train a model first: qiloop train")
    return registry


@router.get("/models")
def models_page(
    request: Request, name: str = Query(default="", max_length=200), who: Principal = Depends(verifier)
) -> Response:
    """Every version of one model (``name``, default the configured one): chart, figures, approval, lineage."""
    console = request.app.state.console
    registry = console.sources.registry()
    if registry is None:
        return render(request, "console_models.html", names=[], name=name, rows=[], chart=None, missing=True)
    names = registry.names()
    name = name or (console.model_name if console.model_name in names or not names else names[0])
    rows = models_view.version_rows(registry, name) if name in names else []
    chart = models_view.metrics_chart(rows)
    return render(request, "console_models.html", names=names, name=name, rows=rows, chart=chart, missing=False)


@router.get("/models/{name}/{version}")
def version_page(name: str, version: int, request: Request, who: Principal = Depends(verifier)) -> Response:
    """One version: figures, the gate's checks, lineage, files, every approval decision; forms for admins."""
    registry = _registry(request)
    found = registry.get(f"{name}/{version}")
    history = [r for r in registry.approvals(name) if r.version == version]
    gate = models_view.gate_view(registry, found)
    return render(request, "console_version.html", v=found, gate=gate, history=history)


@router.post("/models/{name}/{version}/decision")
def decide(
    name: str,
    version: int,
    request: Request,
    decision: str = Form(max_length=16),
    reason: str = Form(default="", max_length=2000),
    who: Principal = Depends(admin),
) -> Response:
    """Approve or reject on record (the same audited approval as ``qiloop models approve``), as the admin."""
    models_view.decide(_registry(request), name, version, decision, reason, actor=f"{who.username} (console)")
    return RedirectResponse(f"/models/{quote(name, safe='')}/{version}", status_code=303)
