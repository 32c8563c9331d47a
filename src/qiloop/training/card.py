"""The dataset card: what a training set holds, per split, as JSON and as a picture.

Logged with every run, so a model's figures can be read against the data they
came from (how many images, how many negatives, how big the boxes are).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.records import DatasetSnapshot, LabelRecord

# Box side lengths in pixels: [0, 8), [8, 16), ... [512, inf).
SIZE_EDGES: tuple[float, ...] = (0, 8, 16, 32, 64, 128, 256, 512)
MAX_BOXES_BIN = 10  # images with this many boxes or more share the last bin


class SplitStats(BaseModel):
    """Counts for one split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    images: int = 0
    boxes: int = 0
    negatives: int = Field(default=0, description="images without any box")
    boxes_per_class: dict[str, int] = Field(default_factory=dict)
    boxes_per_image: list[int] = Field(default_factory=list, description="images with 0, 1, ... (>= last) boxes")
    width_hist: list[int] = Field(default_factory=list, description="box widths, counted in SIZE_EDGES bins")
    height_hist: list[int] = Field(default_factory=list, description="box heights, counted in SIZE_EDGES bins")


class DatasetCard(BaseModel):
    """Counts per split, boxes per image and box-size histograms of a built dataset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label_store_version: int
    fingerprint: str
    classes: list[str]
    image_size: tuple[int, int] = Field(description="(width, height) shared by most images")
    size_edges: tuple[float, ...] = SIZE_EDGES
    splits: dict[str, SplitStats]

    @property
    def total(self) -> SplitStats:
        """The splits added together."""
        return _sum(self.splits.values())

    def save_json(self, path: str | Path) -> Path:
        """Write the card as JSON (what :meth:`load` reads)."""
        path = Path(path)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> DatasetCard:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))

    def save_png(self, path: str | Path) -> Path:
        """Draw the card (counts, boxes per image, box sizes) to a PNG picture."""
        from qiloop.training.card_plot import draw_card

        return draw_card(self, Path(path))


def make_card(
    items: Iterable[tuple[LabelRecord, str]], snapshot: DatasetSnapshot, classes: Sequence[str]
) -> DatasetCard:
    """The card of ``(record, split)`` pairs taken from ``snapshot``.

    Example:
        >>> card = make_card([], DatasetSnapshot(label_store_version=0, record_ids=()), ["scratch"])
        >>> card.splits
        {}
    """
    by_split: dict[str, list[LabelRecord]] = {}
    sizes: Counter[tuple[int, int]] = Counter()
    for record, split in items:
        by_split.setdefault(split, []).append(record)
        sizes[(record.image_width, record.image_height)] += 1
    order = sorted(by_split, key=lambda s: ("train", "val", "test", s).index(s))
    return DatasetCard(
        label_store_version=snapshot.label_store_version,
        fingerprint=snapshot.fingerprint,
        classes=list(classes),
        image_size=sizes.most_common(1)[0][0] if sizes else (0, 0),
        splits={s: _stats(by_split[s], classes) for s in order},
    )


def _bin(value: float) -> int:
    return sum(value >= edge for edge in SIZE_EDGES) - 1


def _stats(records: Sequence[LabelRecord], classes: Sequence[str]) -> SplitStats:
    per_image = [0] * (MAX_BOXES_BIN + 1)
    widths, heights = [0] * len(SIZE_EDGES), [0] * len(SIZE_EDGES)
    per_class: Counter[str] = Counter()
    for record in records:
        per_image[min(len(record.annotations), MAX_BOXES_BIN)] += 1
        for box in record.annotations:
            per_class[classes[box.class_id] if box.class_id < len(classes) else str(box.class_id)] += 1
            widths[_bin(box.width)] += 1
            heights[_bin(box.height)] += 1
    boxes = sum(len(r.annotations) for r in records)
    return SplitStats(
        images=len(records),
        boxes=boxes,
        negatives=per_image[0],
        boxes_per_class=dict(sorted(per_class.items())),
        boxes_per_image=per_image,
        width_hist=widths,
        height_hist=heights,
    )


def _sum(parts: Iterable[SplitStats]) -> SplitStats:
    parts = list(parts)

    def add(lists: list[list[int]]) -> list[int]:
        return [sum(col) for col in zip(*lists, strict=True)] if lists else []

    per_class: Counter[str] = Counter()
    for p in parts:
        per_class.update(p.boxes_per_class)
    return SplitStats(
        images=sum(p.images for p in parts),
        boxes=sum(p.boxes for p in parts),
        negatives=sum(p.negatives for p in parts),
        boxes_per_class=dict(sorted(per_class.items())),
        boxes_per_image=add([p.boxes_per_image for p in parts]),
        width_hist=add([p.width_hist for p in parts]),
        height_hist=add([p.height_hist for p in parts]),
    )
