"""``qiloop train``: label store -> dataset -> training -> verified model package.

``qiloop train --config train.yaml epochs=3`` builds exactly the
:class:`~qiloop.training.config.TrainConfig` that
``TrainConfig.resolve(path="train.yaml", overrides=["epochs=3"])`` builds.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, as_of_arg, console, print_json, settings_for, user_file


def train(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Settings as key=value (dotted keys: augment.mosaic=0).", show_default=False),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A training config YAML file.", show_default=False)
    ] = None,
    profile: Annotated[str, typer.Option("--profile", help="Starting point: default or quick.")] = "default",
    weights: Annotated[
        Path | None, typer.Option("--weights", help="Start from these .pt weights.", show_default=False)
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Run folder (default HOME/runs/train-TIME).", show_default=False)
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Labels as of this time (ISO 8601 or Unix seconds).")
    ] = None,
    store_version: Annotated[
        int | None,
        typer.Option(
            "--store-version",
            help="Labels as of this label-store table version (`qiloop labels versions` lists them).",
            show_default=False,
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds",
            help="Cross-validate instead: K rounds grouped by photo, each testing on one fold; prints mean ± std "
            "of the test figures and registers nothing.",
            show_default=False,
            min=2,
        ),
    ] = None,
    fold: Annotated[
        list[int] | None,
        typer.Option("--fold", help="With --folds: run only this round (0-based; repeat it).", show_default=False),
    ] = None,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print the resolved config as YAML and stop.")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train a detector on the approved labels; register it if it passes the gate.

    Steps: dataset snapshot (split by image group) -> YOLO training -> ONNX FP32 +
    INT8 export with a parity check -> evaluation on the test split -> gate
    (gate.min_map50, no regression against production) -> MLflow registry.
    Exit code 1 when the candidate fails the gate (it is kept as an MLflow run).

    With --folds K it cross-validates the recipe instead (no export, no registry):
    qiloop train --folds 5 --profile default epochs=40
    """
    from qiloop.training.config import TrainConfig

    extra = list(overrides or [])
    if weights is not None:
        extra.append(f"model={weights}")
    cfg = TrainConfig.resolve(profile=profile, path=user_file(config, what="training config") if config else None,
                              overrides=extra)  # fmt: skip
    labels_as_of = as_of_arg(as_of, store_version)
    if labels_as_of is not None:
        cfg = TrainConfig.build({**cfg.model_dump(), "as_of": labels_as_of}, source="--as-of/--store-version")
    if print_config:
        typer.echo(cfg.to_yaml(), nl=False)
        return
    settings = settings_for(home)
    run = out or settings.home / "runs" / f"train-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    if folds is not None:
        from qiloop.cli._train_folds import cross_validate

        summary = cross_validate(cfg, settings, Path(run), folds, fold, quiet=json_out)
        if json_out:
            print_json(summary)
        return
    if fold:
        raise typer.BadParameter("--fold needs --folds K", param_hint="--fold")
    summary = _run(cfg, settings, Path(run), quiet=json_out)
    if json_out:
        print_json(summary)
    if not summary["gate"]["passed"]:
        raise typer.Exit(1)  # the candidate was trained but not registered


def _run(cfg, settings, run: Path, *, quiet: bool) -> dict:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from qiloop.labelstore import LabelStore
    from qiloop.registry import ModelRegistry
    from qiloop.storage import ImageStore
    from qiloop.training.pipeline import check_enough_data, run_training

    say = (lambda *a, **k: None) if quiet else console.print
    labels, images = LabelStore.from_settings(settings), ImageStore.from_settings(settings)
    check_enough_data(labels)
    registry = ModelRegistry.from_settings(settings)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), disable=quiet) as bar:
        task = bar.add_task(f"training {cfg.model}", total=cfg.epochs)

        def on_epoch(row: dict) -> None:
            bar.update(task, completed=row["epoch"], total=row.get("epochs", cfg.epochs))
            bar.update(task, description=f"epoch {row['epoch']}/{cfg.epochs}  mAP50 {row.get('mAP50', 0):.3f}")

        result = run_training(
            cfg, labels=labels, images=images, registry=registry, workdir=run, on_step=lambda s: say(f"· {s}"),
            on_epoch=on_epoch,
        )  # fmt: skip
    data, package = result.dataset, result.export
    counts = ", ".join(f"{s} {c.images} images / {c.boxes} boxes" for s, c in data.card.splits.items())
    say(f"dataset (label store v{data.snapshot.label_store_version}, {data.snapshot.fingerprint}): {counts}")
    metrics = _figures(result.evaluation.summary())
    int8 = _figures(result.int8_evaluation.summary()) if result.int8_evaluation else {}
    say("test split: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    if int8:
        say("test split, INT8: " + ", ".join(f"{k} {v:.3f}" for k, v in int8.items()))
    say(package.parity.summary())
    sizes = f"FP32 {package.fp32_bytes / 1e6:.1f} MB" + (
        f", INT8 {package.int8_bytes / 1e6:.1f} MB" if package.int8_bytes else ""
    )
    say(Text.assemble("model package: ", (str(package.folder), "bold"), f" ({sizes})"))
    decision = result.decision
    if result.version is not None:
        approval = getattr(decision.approval, "value", "")
        say(Text.assemble("gate passed: registered ", (result.version.ref, "bold"), f" as {approval}"))
    else:
        reasons = "; ".join(decision.reasons)
        say(Text.assemble(("gate failed", "red"), f": {reasons} (not registered; the MLflow run says why)"))
    summary = {
        "run": str(run),
        "mlflow_run_id": result.run_id,
        "package": str(package.folder),
        "input_hw": [package.manifest.input_height, package.manifest.input_width],
        "epochs": len(result.train.history),
        "metrics": metrics,
        "int8_metrics": int8,
        "parity": package.parity.summary(),
        "fp32_bytes": package.fp32_bytes,
        "int8_bytes": package.int8_bytes,
        "gate": {"passed": decision.passed, "reasons": decision.reasons},
        "registered": result.version.ref if result.version is not None else None,
        "seconds": {"train": round(result.train.seconds, 1), **{k: round(v, 1) for k, v in package.seconds.items()}},
    }
    return summary


def _figures(summary: dict) -> dict[str, float]:
    keys = ("mAP50", "mAP50-95", "precision", "recall")
    return {k: float(summary[k]) for k in keys if k in summary}
