"""Error analysis: the images a model gets most wrong, drawn for a human to look at.

Ground truth in green, predictions at the operating confidence in red with
their scores. The images with the most missed boxes and those with the most
false ones are saved as PNG files, worst first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from qiloop.core.detections import Detections
from qiloop.core.errors import QiloopError
from qiloop.training.evaluate import Evaluation, item_name

TRUTH = (0, 200, 0)
PREDICTED = (230, 0, 0)


def worst(counts: Sequence[int], n: int) -> list[int]:
    """Indices of the ``n`` largest positive counts, largest first (ties keep input order).

    Example:
        >>> worst([0, 3, 1, 3], 2)
        [1, 3]
    """
    order = sorted((i for i, c in enumerate(counts) if c > 0), key=lambda i: -counts[i])
    return order[:n]


def draw_comparison(
    rgb: np.ndarray,
    truth: Detections,
    predictions: Detections,
    *,
    class_names: Sequence[str] | None = None,
    caption: str = "",
) -> Image.Image:
    """The image with true boxes in green and predicted boxes in red, scored.

    Args:
        rgb: ``HxWx3`` uint8 image.
        truth: The labelled boxes.
        predictions: The predictions to show (already filtered by confidence).
        class_names: Names for class ids in the score labels (ids when omitted).
        caption: A line written on a white band above the image.
    """
    font = ImageFont.load_default()
    band = 14 if caption else 0
    canvas = Image.new("RGB", (rgb.shape[1], rgb.shape[0] + band), "white")
    canvas.paste(Image.fromarray(rgb), (0, band))
    pen = ImageDraw.Draw(canvas)
    if caption:
        pen.text((2, 1), caption, fill=(0, 0, 0), font=font)
    for x1, y1, x2, y2 in truth.xyxy:
        pen.rectangle((x1, y1 + band, x2, y2 + band), outline=TRUTH, width=2)
    for (x1, y1, x2, y2), score, cls in zip(predictions.xyxy, predictions.scores, predictions.class_ids, strict=True):
        pen.rectangle((x1, y1 + band, x2, y2 + band), outline=PREDICTED, width=2)
        name = class_names[cls] if class_names is not None and cls < len(class_names) else str(cls)
        label = f"{name} {score:.2f}"
        top = max(band, y1 + band - 11)
        pen.rectangle(pen.textbbox((x1, top), label, font=font), fill=PREDICTED)
        pen.text((x1, top), label, fill=(255, 255, 255), font=font)
    return canvas


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:80] or "image"


def save_error_pictures(
    evaluation: Evaluation,
    out_dir: str | Path,
    read_image: Callable[[Any], bytes],
    *,
    n: int = 8,
    class_names: Sequence[str] | None = None,
    name_of: Callable[[Any], str] | None = None,
) -> list[Path]:
    """Save the ``n`` images with the most missed, the most false and the most found boxes.

    Files are ``missed-01-<image>.png``, ``false-01-<image>.png``,
    ``found-01-<image>.png``, ... in ``out_dir``, ``<image>`` being
    ``name_of(item)`` (the image's file name; default its URI's last part).
    An image that can no longer be read is skipped. Returns the paths written.
    """
    from qiloop.edge.runtime.preprocess import as_rgb_array

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = evaluation.metrics
    chosen = {
        "missed": worst([c.fn for c in metrics.images], n),
        "false": worst([c.fp for c in metrics.images], n),
        "found": worst([c.tp for c in metrics.images], n),
    }
    name_of = name_of or item_name
    written = []
    for kind, indices in chosen.items():
        for rank, i in enumerate(indices, start=1):
            item, counts = evaluation.items[i], metrics.images[i]
            try:
                rgb = as_rgb_array(read_image(item))
            except (QiloopError, OSError):  # gone since it was evaluated: nothing to draw
                continue
            shown = evaluation.predictions[i].above(evaluation.operating)
            caption = f"{counts.fn} missed, {counts.fp} false, {counts.tp} found (conf >= {metrics.confidence:.2f})"
            picture = draw_comparison(
                rgb, Detections.from_boxes(item.annotations), shown, class_names=class_names, caption=caption
            )
            path = out / f"{kind}-{rank:02d}-{_stem(name_of(item))}.png"
            picture.save(path, format="PNG")
            written.append(path)
    return written


def write_report(
    evaluation: Evaluation,
    out_dir: str | Path,
    read_image: Callable[[Any], bytes],
    *,
    n: int = 8,
    class_names: Sequence[str] | None = None,
    name_of: Callable[[Any], str] | None = None,
) -> dict[str, Any]:
    """Write ``evaluation.json``, ``precision_recall.png``, ``confusion.png``/``.json`` and examples to ``out_dir``."""
    import json

    from qiloop.training.plots import plot_confusion, plot_precision_recall

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "evaluation.json"
    summary.write_text(json.dumps(evaluation.to_json(), indent=2))
    plot = plot_precision_recall(evaluation.metrics, out / "precision_recall.png", class_names=class_names)
    matrix = evaluation_confusion(evaluation)
    names = list(class_names or [str(i) for i in range(len(matrix) - 1)])
    (out / "confusion.json").write_text(json.dumps({"classes": names, "matrix": matrix.tolist()}, indent=2))
    confusion = plot_confusion(matrix, out / "confusion.png", class_names=names)
    pictures = save_error_pictures(evaluation, out, read_image, n=n, class_names=class_names, name_of=name_of)
    return {"summary": summary, "plot": plot, "confusion": confusion, "pictures": pictures}


def evaluation_confusion(evaluation: Evaluation, iou: float = 0.5):
    """The confusion matrix of an evaluation at its operating point (see :mod:`qiloop.core.confusion`)."""
    from qiloop.core.confusion import confusion_matrix

    truths = [Detections.from_boxes(item.annotations) for item in evaluation.items]
    shown = [p.above(evaluation.operating) for p in evaluation.predictions]
    n_classes = 1 + max(
        [int(d.class_ids.max()) for d in truths + shown if len(d)]
        + [len(evaluation.extra.get("class_names") or []) - 1]
    )
    return confusion_matrix(truths, shown, max(n_classes, 1), iou=iou)
