"""``qiloop labels``: import, export and query the versioned label store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from qiloop.cli.common import (
    HomeOption,
    JsonOption,
    as_of_arg,
    console,
    err_console,
    print_json,
    settings_for,
)
from qiloop.cli.labels_history import history
from qiloop.cli.labels_import import import_

app = typer.Typer(
    help="The label store: an append-only, versioned history of every label, with point-in-time reads.",
    no_args_is_help=True,
)

app.command("import")(import_)

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Read as of this time (ISO 8601 or Unix seconds).", show_default=False)
]
StoreVersion = Annotated[
    int | None,
    typer.Option(
        "--store-version",
        help="Read as of this label-store table version (`qiloop labels versions` lists them).",
        show_default=False,
    ),
]


def _stores(home):
    """Settings, image store and label store of a home that exists (these commands only read)."""
    settings = settings_for(home, must_exist=True)
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    return settings, ImageStore.from_settings(settings), LabelStore.from_settings(settings)


@app.command("ls")
def ls(
    as_of: AsOf = None,
    store_version: StoreVersion = None,
    status: Annotated[
        str, typer.Option("--status", help="APPROVED, REJECTED, PENDING_VERIFICATION or ANY.")
    ] = "APPROVED",
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many rows.")] = 50,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the latest label of each image (as of a time or version), filtered by status."""
    _, _, labels = _stores(home)
    wanted = None if status.upper() == "ANY" else status.upper()
    records = labels.latest(as_of=as_of_arg(as_of, store_version), status=wanted)
    if json_out:
        print_json([r.model_dump(mode="json") for r in records[:limit]])
        return
    table = Table("image", "status", "boxes", "event time", "job", title=f"{len(records)} images")
    for r in records[:limit]:
        table.add_row(r.image_uri, r.status.value, str(len(r.annotations)), r.event_time.isoformat(), r.labeling_job)
    console.print(table)


@app.command("snapshot")
def snapshot(
    as_of: AsOf = None, store_version: StoreVersion = None, home: HomeOption = None, json_out: JsonOption = False
) -> None:
    """The reproducible dataset identity: table version and approved record ids."""
    _, _, labels = _stores(home)
    snap = labels.snapshot(as_of=as_of_arg(as_of, store_version))
    if json_out:
        print_json(snap.model_dump(mode="json") | {"fingerprint": snap.fingerprint})
        return
    console.print(
        Text.assemble(
            "label-store version ",
            (str(snap.label_store_version), "bold"),
            f", as of {snap.as_of or 'now'}: {len(snap.record_ids)} approved records, fingerprint ",
            (snap.fingerprint, "bold"),
        )
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
    store_version: StoreVersion = None,
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
    summary = export_labels(labels, images, fmt, out, as_of=as_of_arg(as_of, store_version), classes=settings.classes)
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
            err_console.print(Text.assemble(("not exported", "red"), f" {error}"), highlight=False)
    if summary.errors:
        raise typer.Exit(4)


app.command("history")(history)
