"""``qiloop labels``: import, export and query the versioned label store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qiloop.cli.common import HomeOption, JsonOption, as_of_arg, console, err_console, print_json, settings_for

app = typer.Typer(
    help="The label store: an append-only, versioned history of every label, with point-in-time reads.",
    no_args_is_help=True,
)

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Read as of this time (ISO 8601 or Unix seconds).", show_default=False)
]
Version = Annotated[
    int | None, typer.Option("--version", help="Read as of this label-store table version.", show_default=False)
]


def _stores(home):
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    settings = settings_for(home)
    return settings, ImageStore.from_settings(settings), LabelStore.from_settings(settings)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Label file or folder (labels.csv, manifest, COCO json, YOLO folder).")],
    images_root: Annotated[
        Path | None,
        typer.Option("--images-root", help="Folder the image references map onto.", show_default=False),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="labels-csv, groundtruth, coco or yolo (default: from the file).", show_default=False
        ),
    ] = None,
    prefix: Annotated[
        str, typer.Option("--prefix", help="Reference prefix replaced by --images-root.")
    ] = "s3://${bucket}/pipeline/assets/",
    source: Annotated[str, typer.Option("--source", help="Image-store source for newly seen images.")] = "import",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import labels, ingesting the images they reference into the image store.

    Each row becomes an append-only label record; re-importing the same file
    writes nothing new. Rows that fail (bad syntax, missing image, size
    mismatch) are listed and the rest are imported; the exit code is then 4.
    """
    from rich.progress import Progress

    from qiloop.labelstore.formats import read_any
    from qiloop.labelstore.importer import import_parsed

    _, images, labels = _stores(home)
    parsed = read_any(file, fmt)
    total = len(parsed.drafts)
    with Progress(console=err_console, transient=True, disable=json_out or total < 50) as bar:
        task = bar.add_task("importing", total=total)
        report = import_parsed(
            parsed,
            images,
            labels,
            images_root=images_root if images_root is not None else (file if file.is_dir() else file.parent),
            prefix=prefix,
            source=source,
            progress=lambda: bar.advance(task),
        )
    if json_out:
        print_json(
            {
                "parsed": report.parsed,
                "written": report.written,
                "already_present": report.already_present,
                "images": report.images,
                "version": report.version,
                "errors": [str(e) for e in report.errors],
            }
        )
    else:
        console.print(
            f"[green]{report.written}[/] records written, {report.already_present} already present, "
            f"{report.images} images, label-store version {report.version}"
        )
        for error in report.errors:
            err_console.print(f"[red]rejected[/] {error}", highlight=False)
    if report.errors:
        raise typer.Exit(4)


@app.command("ls")
def ls(
    as_of: AsOf = None,
    version: Version = None,
    status: Annotated[
        str, typer.Option("--status", help="APPROVED, REJECTED, PENDING_VERIFICATION or ANY.")
    ] = "APPROVED",
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many rows.")] = 50,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the latest label of each image (as of a time or version), filtered by status."""
    _, _, labels = _stores(home)
    records = labels.latest(as_of=as_of_arg(as_of, version), status=None if status.upper() == "ANY" else status.upper())
    if json_out:
        print_json([r.model_dump(mode="json") for r in records[:limit]])
        return
    table = Table("image", "status", "boxes", "event time", "job", title=f"{len(records)} images")
    for r in records[:limit]:
        table.add_row(r.image_uri, r.status.value, str(len(r.annotations)), r.event_time.isoformat(), r.labeling_job)
    console.print(table)


@app.command("history")
def history(
    image: Annotated[str, typer.Argument(help="Image sha256 (or its store URI).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Every label record ever written for one image, oldest first."""
    from qiloop.core.errors import NotFoundError

    _, _, labels = _stores(home)
    records = labels.history(image)
    if not records:
        raise NotFoundError(f"no label records for {image}", hint="see `qiloop labels ls` for labelled images")
    if json_out:
        print_json([r.model_dump(mode="json") for r in records])
        return
    table = Table("event time", "written", "status", "boxes", "job", "source", "record id", title=image)
    for r in records:
        table.add_row(
            r.event_time.isoformat(),
            r.write_time.isoformat() if r.write_time else "",
            r.status.value,
            str(len(r.annotations)),
            r.labeling_job,
            r.source.value,
            r.record_id,
        )
    console.print(table)


@app.command("snapshot")
def snapshot(
    as_of: AsOf = None, version: Version = None, home: HomeOption = None, json_out: JsonOption = False
) -> None:
    """The reproducible dataset identity: table version and approved record ids."""
    _, _, labels = _stores(home)
    snap = labels.snapshot(as_of=as_of_arg(as_of, version))
    if json_out:
        print_json(snap.model_dump(mode="json") | {"fingerprint": snap.fingerprint})
        return
    console.print(
        f"label-store version [bold]{snap.label_store_version}[/], as of {snap.as_of or 'now'}: "
        f"{len(snap.record_ids)} approved records, fingerprint [bold]{snap.fingerprint}[/]"
    )


@app.command("versions")
def versions(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """The label store's table versions (each append is one)."""
    _, _, labels = _stores(home)
    rows = labels.versions()
    if json_out:
        print_json([v.__dict__ if hasattr(v, "__dict__") else v for v in rows])
        return
    table = Table("version", "time", "operation", "rows added")
    for v in rows:
        table.add_row(str(v.version), str(v.timestamp), v.operation, str(v.rows_added))
    console.print(table)


@app.command("stats")
def stats(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Counts: records, images, latest status per image, boxes, versions, jobs."""
    _, _, labels = _stores(home)
    data = labels.stats()
    if json_out:
        print_json(data)
        return
    table = Table("measure", "value", title="label store")
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        table.add_row(key, str(value))
    console.print(table)


@app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="yolo, coco, groundtruth or labels-csv.")],
    out: Annotated[Path, typer.Option("--out", help="Folder (YOLO) or file to write.")],
    as_of: AsOf = None,
    version: Version = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Export the latest approved label of every image, as of a time or version.

    YOLO copies the images and splits them train/val/test by group (a stable
    hash: a group never changes split as data grows); the other formats refer
    to images by their image-store URI.
    """
    from qiloop.labelstore.exporter import export_labels

    settings, images, labels = _stores(home)
    summary = export_labels(labels, images, fmt, out, as_of=as_of_arg(as_of, version), classes=settings.classes)
    if json_out:
        print_json(
            {
                "path": str(summary.path),
                "format": summary.format,
                "label_store_version": summary.label_store_version,
                "images": summary.images,
                "boxes": summary.boxes,
                "splits": summary.splits,
                "errors": [str(e) for e in summary.errors],
            }
        )
    else:
        splits = ", ".join(f"{k} {v}" for k, v in sorted(summary.splits.items()))
        console.print(
            f"{summary.images} images, {summary.boxes} boxes from label-store version "
            f"{summary.label_store_version} → {summary.path}" + (f" ({splits})" if splits else "")
        )
        for error in summary.errors:
            err_console.print(f"[red]not exported[/] {error}", highlight=False)
    if summary.errors:
        raise typer.Exit(4)
