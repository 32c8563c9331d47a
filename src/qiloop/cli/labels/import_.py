"""``qiloop labels import``: labels from a file or folder, with the images they name, into the label store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import (
    REFERENCE_PREFIX,
    HomeOption,
    JsonOption,
    LabelFormatOption,
    PrefixOption,
    console,
    err_console,
    print_json,
    settings_for,
    user_file,
)


def import_(
    file: Annotated[Path, typer.Argument(help="Label file or folder (labels.csv, manifest, COCO json, YOLO folder).")],
    images_root: Annotated[
        Path | None,
        typer.Option("--images-root", help="Folder the image references map onto.", show_default=False),
    ] = None,
    fmt: LabelFormatOption = None,
    prefix: PrefixOption = REFERENCE_PREFIX,
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

    user_file(file, what="label file", folder_ok=True)
    settings = settings_for(home)
    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore

    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
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
            Text.assemble(
                (str(report.written), "green"),
                f" records written, {report.already_present} already present, "
                f"{report.images} images, label-store version {report.version}",
            )
        )
        for error in report.errors:
            err_console.print(Text.assemble(("rejected", "red"), f" {error}"), highlight=False)
    if report.errors:
        raise typer.Exit(4)
