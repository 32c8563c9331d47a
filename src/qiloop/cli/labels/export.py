"""``qiloop labels export``: the approved labels in a training or exchange format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, as_of_arg, console, err_console, print_json
from qiloop.cli.labels._shared import AsOf, StoreVersion, read_stores


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

    settings, images, labels = read_stores(home)
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
