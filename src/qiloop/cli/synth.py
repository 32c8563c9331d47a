"""``qiloop synth``: make a synthetic labelled data set of scratched metal tags."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from qiloop.cli.common import console
from qiloop.core.errors import MissingDependencyError


def synth(
    n: int = typer.Option(200, "--n", min=1, help="How many images (450x300 crops; four per rendered photo)."),
    out: Path = typer.Option(..., "--out", help="Folder to write images/{bad,good}/*.jpg and labels.csv into."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed: the same seed gives byte-identical output."),
    unlabeled: int = typer.Option(
        0, "--unlabeled", min=0, help="Leave this many images without a labels.csv row (input for labelling)."
    ),
    size: str = typer.Option("450x300", "--size", help="Image size WIDTHxHEIGHT of each crop."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier synthetic data set in --out."),
) -> None:
    """Render synthetic photos of engraved metal tags with scratches, and their labels.

    Each photo shows four dark brushed-metal tags on a light backdrop and is cut
    into four quarters named like the real data
    (<photo>-cropped-left-top.jpg, ...-right-bottom.jpg): keep a photo's four
    crops in one split. Crops with scratches go to images/bad/, the others to
    images/good/; labels.csv holds the tight box of every scratch in the
    reference format (map the prefix s3://${bucket}/pipeline/assets/ onto --out).

    Example: qiloop synth --n 200 --out ./demo-data --seed 7 --unlabeled 20
    """
    try:
        from qiloop.synth import generate_dataset, parse_size
    except ModuleNotFoundError as exc:  # Pillow comes with the data extra
        if exc.name != "PIL":
            raise
        raise MissingDependencyError("pillow", "data") from exc

    started = time.perf_counter()
    report = generate_dataset(
        out, n, seed, unlabeled=unlabeled, size=parse_size(size), progress=console.is_terminal, overwrite=overwrite
    )
    seconds = time.perf_counter() - started
    console.print(
        f"wrote {report.images} images ({report.bad} with scratches, {report.good} without; "
        f"{report.boxes} boxes) from {report.photos} photos in {seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"labels: {report.labeled} rows, {report.unlabeled} images unlabelled: {report.labels_csv}",
        highlight=False,
        soft_wrap=True,
    )
