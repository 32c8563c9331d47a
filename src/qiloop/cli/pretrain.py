"""``qiloop pretrain``: a detector trained on synthetic tags, to start real training from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qiloop.cli.common import JsonOption, console, print_json


def pretrain(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Changes to the recipe's training config as key=value (epochs=60).", show_default=False),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for synthetic-yolov8n.pt and its .json record.")] = Path(
        "pretrained"
    ),
    images: Annotated[int | None, typer.Option("--images", min=8, help="Synthetic images to train on.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="The generator's seed.")] = None,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Keep the synthetic data and the run here (default: a temporary folder)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Render synthetic metal tags, train a YOLOv8n on them, and write the weights and how they were made.

    The checkpoint qiloop ships (builtin:synthetic-yolov8n.pt, where both training
    profiles start) was built by this command with its defaults: 1,000 tags, 20
    epochs at 320, about 30 minutes on 2 CPU cores. The .json beside the weights
    records the seed, the data, the recipe, the figures and the sha256;
    benchmarks/pretrain_synthetic.py rebuilds it and checks its figures. Train
    from your own file with `qiloop train --weights DIR/synthetic-yolov8n.pt`.

    Example: qiloop pretrain --out pretrained/ epochs=10
    """
    from rich.progress import Progress

    from qiloop.training.pretrain import RECIPE
    from qiloop.training.pretrain import pretrain as run

    images = RECIPE["images"] if images is None else images
    seed = RECIPE["seed"] if seed is None else seed
    with Progress(console=console, transient=True, disable=json_out) as bar:
        task = bar.add_task("pretraining", total=None)

        def on_epoch(row: dict) -> None:
            bar.update(
                task,
                total=row.get("epochs"),
                completed=int(row.get("epoch", 0)),
                description=f"pretraining: mAP50 {row.get('mAP50', 0):.3f}",
            )

        result = run(out, images=images, seed=seed, overrides=overrides or [], workdir=workdir, on_epoch=on_epoch)
    if json_out:
        print_json(result.record)
        return
    final = result.record.get("final") or {}
    console.print(
        f"wrote {result.checkpoint} ({result.record['bytes'] / 1e6:.1f} MB) in {result.record['seconds']:.0f} s; "
        f"validation mAP50 {final.get('mAP50', float('nan')):.3f}, recall {final.get('recall', float('nan')):.3f}",
        highlight=False,
        markup=False,
    )
