"""``qiloop images``: put images into the image store and look at what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, err_console, print_json, settings_for, user_file
from qiloop.registry.refs import format_ref

app = typer.Typer(
    help="The image store: ingest images (deduplicated by content) and list, find or show them.",
    no_args_is_help=True,
)

EXIT_REJECTED = 4


def _store(home: Path | None, *, must_exist: bool = True):
    """The image store of the home; only ``ingest`` creates a home that is not there."""
    settings = settings_for(home, must_exist=must_exist)
    from qiloop.storage.image_store import ImageStore

    return ImageStore.from_settings(settings)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders (walked recursively).")],
    source: Annotated[
        str, typer.Option("--source", help="Where the images come from: import, camera:<id>, feedback:<device>.")
    ] = "import",
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Ingest images; exit code 4 when any file was rejected (the others are still stored).

    A path that does not exist stops the command before anything is stored (exit code 5).
    """
    for path in paths:
        user_file(path, what="image file or folder", folder_ok=True)
    store = _store(home, must_exist=False)
    report = store.ingest(paths, source=source, progress=err_console.is_terminal and not json_output)
    if json_output:
        print_json(
            {
                "added": [r.sha256 for r in report.added],
                "duplicates": [r.sha256 for r in report.duplicates],
                "rejected": [{"path": e.path, "reason": e.reason} for e in report.rejected],
            }
        )
    else:
        console.print(
            Text.assemble(
                (f"{len(report.added)} added", "green"),
                f", {len(report.duplicates)} duplicate, ",
                (f"{len(report.rejected)} rejected", "red" if report.rejected else ""),
                f" -> {store.url}",
            ),
            highlight=False,
        )
        for error in report.rejected:
            console.print(Text.assemble("  ", ("rejected", "red"), f" {error.path}: {error.reason}"), soft_wrap=True)
    if report.rejected:
        raise typer.Exit(code=EXIT_REJECTED)


@app.command("ls")
def list_images(
    unlabeled: Annotated[bool, typer.Option("--unlabeled", help="Only images without an approved label.")] = False,
    source: Annotated[str | None, typer.Option("--source", help="Only this source (camera = camera:*).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Show at most N images (0: all).")] = 50,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """List images in ingest order."""
    settings = settings_for(home, must_exist=True)
    from qiloop.storage.image_store import ImageStore

    store = ImageStore.from_settings(settings)
    if unlabeled:
        from qiloop.labelstore import LabelStore

        labeled = LabelStore.from_settings(settings).labeled_sha256s()
        records = store.unlabeled(labeled)
    else:
        records = store.list()
    if source is not None:
        records = [r for r in records if r.source == source or r.source.startswith(f"{source}:")]
    total = len(records)
    shown = records[:limit] if limit else records
    if json_output:
        print_json([r.model_dump(mode="json") for r in shown])
        return
    from rich.table import Table

    title = f"{total} image(s)" + (f", first {len(shown)} shown" if len(shown) < total else "")
    table = Table(title=title, caption=store.url)
    for column in ("sha256", "format", "size", "source", "group", "name", "ingested"):
        table.add_column(column, no_wrap=column in ("sha256", "format", "size", "ingested"))
    for r in shown:
        table.add_row(
            r.sha256[:12],
            r.format,
            f"{r.width}x{r.height}x{r.depth}",
            r.source,
            r.group,
            r.original_name,
            r.ingested_at.strftime("%Y-%m-%d %H:%M") if r.ingested_at else "",
        )
    console.print(table)


@app.command()
def show(
    sha256: Annotated[str, typer.Argument(help="The image's sha256 (a unique prefix is enough).")],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one image's record."""
    record = _store(home).resolve(sha256)
    data = record.model_dump(mode="json")
    if json_output:
        print_json(data)
        return
    for name, value in data.items():
        shown = value if value is not None else "-"
        console.print(Text.assemble((f"{name:>14}", "bold"), f"  {shown}"), highlight=False)


@app.command()
def feedback(
    device: Annotated[str | None, typer.Option("--device", help="Only images this device sent.")] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the images devices sent back for labelling: reason, device, model version, pre-labels."""
    entries = _store(home).feedback.list(device)
    if json_output:
        print_json([e.model_dump(mode="json") for e in entries])
        return
    from rich.table import Table

    table = Table(title=f"{len(entries)} feedback image(s)")
    for column in ("received (UTC)", "sha256", "name", "device", "seq", "reason", "model", "pre-labels"):
        table.add_column(column, no_wrap=column != "name")
    for e in entries:
        table.add_row(
            f"{e.received_at:%Y-%m-%d %H:%M:%S}",
            e.image_sha256[:12],
            e.image_name,
            e.device_id,
            str(e.sequence),
            e.reason,
            format_ref(e.model_name, e.model_version),
            str(len(e.prelabels)),
        )
    console.print(table)
