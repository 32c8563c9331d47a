"""``qiloop train --folds K``: cross-validation grouped by photo, printed as mean ± standard deviation."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from qiloop.cli.common import console


def cross_validate(cfg, settings, run: Path, folds: int, only: list[int] | None, *, quiet: bool) -> dict:
    """Run the rounds with a progress bar; print each round and the summary; return the summary JSON."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from qiloop.labelstore import LabelStore
    from qiloop.storage import ImageStore
    from qiloop.training.crossval import SUMMARY_JSON, SUMMARY_PNG, cross_validate
    from qiloop.training.pipeline import check_enough_data

    labels, images = LabelStore.from_settings(settings), ImageStore.from_settings(settings)
    check_enough_data(labels)
    rounds = len(only) if only else folds
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), disable=quiet) as bar:
        task = bar.add_task("cross-validation", total=rounds * cfg.epochs)
        done = {"rounds": 0}

        def on_fold(fold: int, step: str) -> None:
            if step == "dataset" and fold != (only or list(range(folds)))[0]:
                done["rounds"] += 1
            bar.update(task, description=f"fold {fold} of {folds}: {step}")

        def on_epoch(row: dict) -> None:
            bar.update(task, completed=done["rounds"] * cfg.epochs + row["epoch"])

        result = cross_validate(
            cfg, labels=labels, images=images, workdir=run, folds=folds, only=only, on_fold=on_fold, on_epoch=on_epoch
        )
    if not quiet:
        table = Table(title=f"{folds}-fold cross-validation grouped by photo ({result.groups} groups)")
        for column in ("fold", "train/val/test images", "mAP50", "mAP50-95", "precision", "recall", "seconds"):
            table.add_column(column, justify="right")
        for r in result.rounds:
            sizes = "/".join(str(r.images.get(s, 0)) for s in ("train", "val", "test"))
            figures = [f"{r.metrics[m]:.3f}" for m in ("mAP50", "mAP50-95", "precision", "recall")]
            table.add_row(str(r.fold), sizes, *figures, f"{r.seconds:.0f}")
        means = [f"{result.mean(m):.3f} ± {result.std(m):.3f}" for m in ("mAP50", "mAP50-95", "precision", "recall")]
        table.add_row("mean ± std", "", *means, "", style="bold")
        console.print(table)
        console.print(f"summary: {run / SUMMARY_JSON}, picture: {run / SUMMARY_PNG} (nothing was registered)")
    return result.to_json() | {"run": str(run)}
