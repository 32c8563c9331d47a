"""``qiloop labeling gold``: the gold set, images with known boxes mixed into jobs to measure workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qiloop.cli.common import (
    REFERENCE_PREFIX,
    HomeOption,
    JsonOption,
    LabelFormatOption,
    PrefixOption,
    console,
    open_database,
    print_json,
)

app = typer.Typer(help="Gold images: known boxes, hidden among tasks, that measure each worker.", no_args_is_help=True)


@app.command("add")
def add(
    file: Annotated[
        Path | None,
        typer.Argument(help="A label file (labels.csv, manifest, COCO json, YOLO folder) of gold boxes.", exists=True),
    ] = None,
    from_store: Annotated[
        bool, typer.Option("--from-store", help="Take APPROVED labels from the label store instead of a file.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="With --from-store: at most this many (by image sha256).")
    ] = None,
    images_root: Annotated[
        Path | None,
        typer.Option("--images-root", help="Folder the file's image references map onto.", show_default=False),
    ] = None,
    prefix: PrefixOption = REFERENCE_PREFIX,
    fmt: LabelFormatOption = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add gold images from a label file or from the label store's approved labels.

    Every image must already be in the image store. A file with a bad row or a
    missing image adds nothing; images already in the gold set are kept as they are.
    """
    from qiloop.core.errors import ConfigurationError
    from qiloop.labeling import gold_sources
    from qiloop.labeling.goldset import add_gold, list_gold
    from qiloop.storage import ImageStore

    if (file is None) == (not from_store):
        raise ConfigurationError("give a label file or --from-store, not both nor neither", hint="see --help")
    settings, db = open_database(home)
    images = ImageStore.from_settings(settings)
    skipped = 0
    if from_store:
        from qiloop.labelstore import LabelStore

        with db.session() as session:
            known = {g.sha256 for g in list_gold(session)}
        records = gold_sources.gold_from_store(LabelStore.from_settings(settings), images, exclude=known, limit=limit)
    else:
        from qiloop.labelstore.formats import read_any

        root = images_root if images_root is not None else (file if file.is_dir() else file.parent)
        parsed = read_any(file, fmt)
        records, skipped = gold_sources.gold_from_file(parsed, images, images_root=root, prefix=prefix)
    with db.session() as session:
        added = add_gold(session, records)
    result = {"candidates": len(records), "added": added, "already_gold": len(records) - added, "not_approved": skipped}
    if json_out:
        print_json(result)
    else:
        console.print(
            f"added {added} gold image(s); {result['already_gold']} already gold, {skipped} row(s) not APPROVED",
            highlight=False,
        )


@app.command("ls")
def ls(
    retired: Annotated[bool, typer.Option("--all", help="Also list retired gold images.")] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List gold images with how often workers were shown them and their mean F1 on each."""
    from qiloop.labeling.goldset import list_gold

    _, db = open_database(home, must_exist=True)
    with db.session() as session:
        rows = [g for g in list_gold(session) if g.active or retired]
    if json_out:
        print_json(
            [
                {"sha256": g.sha256, "uri": g.uri, "width": g.width, "height": g.height, "boxes": g.boxes,
                 "active": g.active, "shown": g.shown, "scored": g.scored, "mean_f1": g.mean_f1,
                 "created_at": g.created_at.isoformat()}
                for g in rows
            ]
        )  # fmt: skip
        return
    table = Table("sha256", "image", "boxes", "state", "shown", "scored", "mean F1", title=f"{len(rows)} gold images")
    for g in rows:
        mean = "-" if g.mean_f1 is None else f"{g.mean_f1:.2f}"
        state = "active" if g.active else "retired"
        table.add_row(g.sha256[:16], Path(g.uri).name, str(g.boxes), state, str(g.shown), str(g.scored), mean)
    console.print(table)


@app.command("retire")
def retire(
    sha256: Annotated[str, typer.Argument(help="The gold image's sha256 (or its first 8+ characters).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stop serving a gold image; the scores workers earned on it stay."""
    from qiloop.labeling.goldset import find_gold, retire_gold

    _, db = open_database(home)
    with db.session() as session:
        full = find_gold(session, sha256).image_sha256
        retired = retire_gold(session, full)
    if json_out:
        print_json({"sha256": full, "retired": retired})
    else:
        console.print(f"{full[:16]} {'retired' if retired else 'was already retired'}", highlight=False)
