"""The dataset card as a picture (a matplotlib Figure drawn off-screen: no display needed)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

from qiloop.core.errors import require

if TYPE_CHECKING:
    from qiloop.training.card import DatasetCard


def _size_labels(edges) -> list[str]:
    bounds = [f"{int(e)}" for e in edges]
    return [f"{a}-{b}" for a, b in itertools.pairwise(bounds)] + [f"{bounds[-1]}+"]


def draw_card(card: DatasetCard, path: Path) -> Path:
    """Three panels: images/boxes/negatives per split, boxes per image, box width and height."""
    require("matplotlib", "train")
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    splits = list(card.splits)
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    ax = axes[0]
    x = np.arange(len(splits))
    for i, (key, label) in enumerate([("images", "images"), ("boxes", "boxes"), ("negatives", "negatives")]):
        values = [getattr(card.splits[s], key) for s in splits]
        bars = ax.bar(x + (i - 1) * 0.27, values, width=0.27, label=label)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(x, splits)
    ax.set_title("per split")
    ax.legend(fontsize=8)

    ax = axes[1]
    for s in splits:
        counts = card.splits[s].boxes_per_image
        ax.plot(range(len(counts)), counts, marker="o", label=s)
    ax.set_xlabel("boxes in the image (last bin: or more)")
    ax.set_ylabel("images")
    ax.set_title("boxes per image")
    ax.legend(fontsize=8)

    ax = axes[2]
    total = card.total
    labels = _size_labels(card.size_edges)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, total.width_hist, width=0.4, label="width")
    ax.bar(x + 0.2, total.height_hist, width=0.4, label="height")
    ax.set_xticks(x, labels, rotation=30, fontsize=8)
    ax.set_xlabel("box side (pixels)")
    ax.set_title("box sizes, all splits")
    ax.legend(fontsize=8)

    w, h = card.image_size
    fig.suptitle(
        f"dataset {card.fingerprint} (label store v{card.label_store_version}) - "
        f"{total.images} images {w}x{h}, {total.boxes} boxes, classes {', '.join(card.classes)}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path
