"""``qiloop models``: list, inspect, approve, reject and download registered model versions.

A REF is ``NAME/VERSION`` (``scratch-detector/3``), ``NAME@ALIAS``
(``scratch-detector@production``, ``@latest``), a bare ``NAME`` (its production
version), or a bare version number or ``@ALIAS`` for the default model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for

app = typer.Typer(
    help="The model registry: versions with metrics, lineage and approval; `production` is what devices run.",
    no_args_is_help=True,
)

Ref = Annotated[str, typer.Argument(help="NAME/VERSION, NAME@ALIAS, NAME (= production), or a version number.")]


def _registry(home):
    """The registry of an existing home: every command here reads or changes versions that must exist."""
    settings = settings_for(home, must_exist=True)
    from qiloop.registry import ModelRegistry

    return ModelRegistry.from_settings(settings)


def _metric(v, key: str) -> str:
    value = v.metrics.get(key)
    return "" if value is None else f"{value:.3f}"


def _table(versions, title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("version", "approval", "aliases", "mAP50", "mAP50-95"):
        table.add_column(column, no_wrap=True, min_width=len("production") if column == "aliases" else None)
    table.add_column("created (UTC)")
    for v in versions:
        created = v.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(
            str(v.version), v.approval.value, ", ".join(v.aliases), _metric(v, "mAP50"), _metric(v, "mAP50-95"), created
        )
    return table


@app.command("ls")
def ls(
    name: Annotated[
        str | None, typer.Option("--name", help="Only this model (default: every model).", show_default=False)
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List registered model versions, oldest first, with approval, aliases and metrics."""
    registry = _registry(home)
    names = [name] if name else registry.names()
    found = {n: registry.versions(n) for n in names}
    if json_out:
        print_json([v.model_dump(mode="json") for versions in found.values() for v in versions])
        return
    if not found:
        console.print("no registered models yet (a passing training run registers one)")
    for model, versions in found.items():
        console.print(_table(versions, title=f"{model}: {len(versions)} versions"))


@app.command("show")
def show(ref: Ref, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Show one version: approval and its audited decisions, lineage, metrics, files with sha256, run and source."""
    registry = _registry(home)
    version = registry.get(ref)
    decisions = [r for r in registry.approvals(version.name) if r.version == version.version]
    if json_out:
        print_json(version.model_dump(mode="json") | {"decisions": [r.model_dump(mode="json") for r in decisions]})
        return
    lines = [
        ("model", version.ref),
        ("approval", version.approval.value + (f" ({version.reason})" if version.reason else "")),
        ("aliases", ", ".join(version.aliases) or "-"),
        ("created", version.created_at.isoformat()),
        ("dataset snapshot", version.dataset_snapshot or "-"),
        ("label-store version", str(version.label_store_version)),
        ("git commit", version.git_commit or "-"),
        ("run", version.run_id or "-"),
        ("source", version.source),
    ]
    lines += [(f"metric {k}", f"{val:.4f}") for k, val in sorted(version.metrics.items())]
    lines += [(f"file {f}", f"{e.size} bytes, sha256 {e.sha256}") for f, e in sorted(version.files.items())]
    lines += [(f"tag {k}", val) for k, val in sorted(version.tags.items())]
    for record in decisions:  # the approval ledger: who decided, when, why
        reason = f" — {record.reason}" if record.reason else ""
        lines.append(("decision", f"{record.state.value} by {record.actor} at {record.at.isoformat()}{reason}"))
    if not decisions:
        lines.append(("decision", "none recorded (not approved or rejected yet)"))
    for key, value in lines:
        console.print(f"{key:<22}{value}", highlight=False, soft_wrap=True)


def _report(version) -> None:
    production = " (production)" if version.is_production else ""
    console.print(Text.assemble(f"{version.ref}: ", (version.approval.value, "bold"), production), highlight=False)


def _changed(registry, version, json_out: bool) -> None:
    """Show a version whose approval changed, and where `production` points now."""
    current = registry.production(version.name)
    if json_out:
        print_json({"version": version.model_dump(mode="json"), "production": current.ref if current else None})
        return
    _report(version)
    console.print(f"production: {current.ref if current else 'none'}", highlight=False)


@app.command("approve")
def approve(
    ref: Ref,
    reason: Annotated[str | None, typer.Option("--reason", help="Why it is approved.", show_default=False)] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve a version; the newest approved version becomes `production`."""
    registry = _registry(home)
    _changed(registry, registry.approve(ref, reason), json_out)


@app.command("reject")
def reject(
    ref: Ref,
    reason: Annotated[str, typer.Option("--reason", help="Why it is rejected (required).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reject a version; if it was production, the previous approved version takes over."""
    registry = _registry(home)
    _changed(registry, registry.reject(ref, reason), json_out)


@app.command("download")
def download(
    ref: Ref,
    out: Annotated[Path, typer.Option("--out", help="New folder for the model package (must not hold files).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Download a version's model package and verify every file against its sha256."""
    registry = _registry(home)
    version = registry.get(ref)
    folder = registry.download(version.ref, out)
    if json_out:
        print_json({"ref": version.ref, "path": str(folder), "files": sorted(version.files)})
        return
    console.print(f"{version.ref} -> {folder} ({len(version.files)} files verified)", highlight=False)
