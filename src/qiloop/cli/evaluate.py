"""``qiloop evaluate``: a model package or registered version on a labelled set on disk.

Prints mAP50, mAP50-95, precision and recall (JSON with ``--json``); with
``--out`` also writes the precision-recall plot and the worst images, drawn.
Exit code 4 when some images or label rows could not be evaluated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from qiloop.cli.common import HomeOption, JsonOption, console, err_console, print_json, settings_for, user_file


def evaluate(
    model: Annotated[
        str,
        typer.Option(
            "--model", help="A model package folder, or a registry REF (scratch-detector@production, NAME/VERSION)."
        ),
    ],
    labels: Annotated[Path, typer.Option("--labels", help="Labels in the reference labels.csv format.")],
    images_root: Annotated[
        Path, typer.Option("--images-root", help="Folder that s3://${bucket}/pipeline/assets/ maps onto.")
    ],
    json_out: JsonOption = False,
    int8: Annotated[bool, typer.Option("--int8", help="Evaluate the package's INT8 model.")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the precision-recall plot and the worst images.", show_default=False),
    ] = None,
    confidence: Annotated[
        float | None,
        typer.Option(
            "--confidence", min=0.0, max=1.0, help="Operating confidence (default: the package's).", show_default=False
        ),
    ] = None,
    worst: Annotated[int, typer.Option("--worst", min=0, help="How many worst images of each kind to draw.")] = 8,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="ONNX Runtime threads.", show_default=False)
    ] = None,
    home: HomeOption = None,
) -> None:
    """Evaluate a model on labelled images: mAP50, mAP50-95, precision, recall."""
    from qiloop.core.package import is_package
    from qiloop.training.evaluate_csv import evaluate_labels_csv, read_local

    user_file(labels, what="labels.csv file")
    registry = None
    if not is_package(Path(model)) and not Path(model).exists():
        from qiloop.registry import ModelRegistry

        registry = ModelRegistry.from_settings(settings_for(home, must_exist=True))
    evaluation = evaluate_labels_csv(
        model, labels, images_root, registry=registry, int8=int8, confidence=confidence, threads=threads,
        progress=not json_out,
    )  # fmt: skip
    report = None
    if out is not None:
        from qiloop.training.error_analysis import write_report

        report = write_report(evaluation, out, read_local, n=worst, class_names=evaluation.extra.get("class_names"))
    _print(evaluation, report, json_out)
    if evaluation.failures:
        raise typer.Exit(4)


def _print(evaluation, report, json_out: bool) -> None:
    if json_out:
        data = evaluation.to_json(per_image=False)
        if report is not None:
            data["report"] = {k: [str(p) for p in v] if isinstance(v, list) else str(v) for k, v in report.items()}
        print_json(data)
        return
    s = evaluation.summary()
    table = Table("metric", "value", title=f"{evaluation.model}: {s['images']} images")
    for key in ("mAP50", "mAP50-95", "precision", "recall", "f1"):
        table.add_row(key, f"{s[key]:.4f}")
    table.add_row("confidence", f"{s['confidence']:.2f} (best F1 {s['best_f1']:.4f} at {s['best_confidence']:.2f})")
    table.add_row("found / false / missed", f"{s['tp']} / {s['fp']} / {s['fn']}")
    console.print(table)
    if report is not None:
        console.print(f"plot and {len(report['pictures'])} pictures in {report['plot'].parent}")
    for failure in evaluation.failures[:20]:
        err_console.print(Text.assemble(("failed:", "red"), f" {failure.image}: {failure.reason}"), highlight=False)
    if len(evaluation.failures) > 20:
        err_console.print(f"... and {len(evaluation.failures) - 20} more failures")
