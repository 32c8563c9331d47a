"""Build a training dataset from the label store: snapshot, split by group, YOLO folder, card.

The dataset is the latest APPROVED label of each image as of a moment (a time
or a label-store version). Each image goes to the split of its group, a stable
hash of the group key (:func:`~qiloop.core.splits.split_of`): adding images
never moves an existing group, so test figures stay comparable between dataset
versions, and the crops of one photo never leak across splits.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from qiloop.core.errors import ConfigurationError, QiloopError
from qiloop.core.records import DatasetSnapshot
from qiloop.core.splits import DEFAULT_RATIOS
from qiloop.labelstore.exporter import yolo_items
from qiloop.labelstore.formats import yolo_folder
from qiloop.training.card import DatasetCard, make_card

CARD_JSON = "dataset_card.json"
CARD_PNG = "dataset_card.png"
SNAPSHOT_JSON = "snapshot.json"


@dataclass(frozen=True)
class BuiltDataset:
    """A YOLO dataset folder and what it was built from.

    Attributes:
        root: the folder (``data.yaml``, ``images/<split>``, ``labels/<split>``).
        snapshot: the label-store snapshot with ``splits`` filled (record ids per split).
        card: counts and histograms per split.
        errors: images that could not be written (left out of the splits).
    """

    root: Path
    snapshot: DatasetSnapshot
    card: DatasetCard
    errors: list[QiloopError] = field(default_factory=list)

    @property
    def data_yaml(self) -> Path:
        return self.root / "data.yaml"

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` shared by most images: what the model's input size follows."""
        return self.card.image_size

    def images(self, split: str) -> list[Path]:
        """The image files of one split, sorted by name."""
        folder = self.root / "images" / split
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def build_dataset(
    labels,
    images,
    out_dir: str | Path,
    *,
    as_of: datetime | int | None = None,
    ratios: Mapping[str, float] = DEFAULT_RATIOS,
    classes: Sequence[str] = ("scratch",),
    assign: Callable[[str], str] | None = None,
) -> BuiltDataset:
    """Write the dataset of the label store as of ``as_of`` to ``out_dir``.

    Args:
        labels: the label store (:class:`~qiloop.labelstore.LabelStore`).
        images: the image store the records' images are read from.
        out_dir: a new or empty folder, or one this function built before (replaced).
        as_of: a time or a label-store version; ``None`` is now.
        ratios: split shares; ``train`` and ``val`` must end up non-empty.
        classes: class names, index = class id.
        assign: image group → split, in place of the ratios' hash split (one
            fold of cross-validation: :func:`~qiloop.core.splits.fold_assigner`).

    Raises:
        ConfigurationError: ``out_dir`` holds other files, or a split needed for
            training is empty (too few groups for the ratios).
    """
    root = _fresh_folder(Path(out_dir))
    snapshot = labels.snapshot(as_of=as_of)
    records = labels.records(snapshot.record_ids, version=snapshot.label_store_version)
    items = yolo_items(records, images, ratios, assign)
    _require_splits(_ids_by_split((record, split) for record, split, _ in items), ratios, len(records))
    by_uri = {record.image_uri: record.image_sha256 for record, _, _ in items}
    result = yolo_folder.export(root, items, list(classes), lambda uri: images.read_bytes(by_uri[uri]))
    failed = {e.source for e in result.errors}
    written = [(record, split) for record, split, name in items if f"{split}/{name}" not in failed]
    splits = _ids_by_split(written)
    _require_splits(splits, ratios, len(records))
    snapshot = snapshot.model_copy(update={"splits": {s: tuple(ids) for s, ids in splits.items()}})
    card = make_card(written, snapshot, classes)
    card.save_json(root / CARD_JSON)
    card.save_png(root / CARD_PNG)
    (root / SNAPSHOT_JSON).write_text(snapshot.model_dump_json(indent=2), encoding="utf-8")
    return BuiltDataset(root, snapshot, card, list(result.errors))


def _fresh_folder(root: Path) -> Path:
    if root.exists() and any(root.iterdir()):
        if not (root / CARD_JSON).is_file():
            raise ConfigurationError(
                f"{root} is not empty and is not a dataset built before",
                hint="give a new or empty folder; nothing in it was changed",
            )
        shutil.rmtree(root)  # an earlier build: its images would otherwise mix with this one's
    root.mkdir(parents=True, exist_ok=True)
    return root


def _ids_by_split(pairs) -> dict[str, list[str]]:
    splits: dict[str, list[str]] = {}
    for record, split in pairs:
        splits.setdefault(split, []).append(record.record_id)
    return splits


def _require_splits(splits: Mapping[str, list[str]], ratios: Mapping[str, float], total: int) -> None:
    needed = [s for s in ("train", "val") if ratios.get(s, 0) > 0 and not splits.get(s)]
    if needed:
        counts = {s: len(ids) for s, ids in splits.items()}
        raise ConfigurationError(
            f"the {' and '.join(needed)} split is empty ({total} images by split: {counts})",
            hint="label images from more groups (photos), or change the split ratios",
        )
