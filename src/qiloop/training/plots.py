"""Evaluation plots: precision-recall and F1-confidence, as one PNG.

Drawn with matplotlib's Agg canvas and its bundled DejaVu font: no display,
no pyplot global state, nothing downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qiloop.core.errors import require
from qiloop.core.metrics_types import DetectionMetrics


def _name(class_id: int, class_names: Sequence[str] | None) -> str:
    if class_names is not None and 0 <= class_id < len(class_names):
        return class_names[class_id]
    return f"class {class_id}"


def plot_precision_recall(
    metrics: DetectionMetrics, path: str | Path, *, class_names: Sequence[str] | None = None, title: str = ""
) -> Path:
    """Save the precision-recall curves (IoU 0.5) and F1 against confidence to ``path``.

    The left panel shows each class's precision envelope with its AP50, and the
    mean; the right panel marks the operating and the F1-optimal confidence.
    """
    require("matplotlib", "train")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    pr, f1 = figure.subplots(1, 2)
    for row, class_id in enumerate(metrics.curve_classes.tolist()):
        ap = metrics.classes[class_id].ap50
        pr.plot(metrics.pr_recall, metrics.pr_precision[row], lw=1, label=f"{_name(class_id, class_names)} {ap:.3f}")
        f1.plot(metrics.confidence_grid, metrics.f1_curve[row], lw=1, label=_name(class_id, class_names))
    if len(metrics.curve_classes) > 1:
        pr.plot(metrics.pr_recall, metrics.pr_precision.mean(0), lw=2.5, color="black", label="all")
        f1.plot(metrics.confidence_grid, metrics.f1_curve.mean(0), lw=2.5, color="black", label="all")
    pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    pr.set_title(f"precision-recall, mAP50 {metrics.map50:.3f}, mAP50-95 {metrics.map50_95:.3f}", fontsize=10)
    f1.axvline(metrics.confidence, color="grey", ls="--", lw=1, label=f"operating {metrics.confidence:.2f}")
    f1.axvline(metrics.best_confidence, color="tab:red", ls=":", lw=1, label=f"best {metrics.best_confidence:.2f}")
    f1.set(xlabel="confidence", ylabel="F1", xlim=(0, 1), ylim=(0, 1.02))
    f1.set_title(f"F1 {metrics.best_f1:.3f} at confidence {metrics.best_confidence:.2f}", fontsize=10)
    for axis in (pr, f1):
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(loc="lower left", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def plot_confusion(matrix, path: str | Path, *, class_names: Sequence[str]) -> Path:
    """Save the detection confusion matrix (true class rows, predicted class columns, background last) as a PNG."""
    require("matplotlib", "train")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [*class_names, "background"]
    size = 2.5 + 0.6 * len(labels)
    figure = Figure(figsize=(size, size * 0.85), dpi=100)
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    axis.imshow(matrix, cmap="Blues")
    peak = max(int(matrix.max()), 1)
    for (row, col), count in np.ndenumerate(matrix):
        axis.text(col, row, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black")
    axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set(xlabel="predicted (background: missed)", ylabel="true (background: false box)")
    axis.set_title("confusion at the operating point, IoU 0.5", fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
