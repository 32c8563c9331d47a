"""make_card: counts, negatives, boxes per image and box-size bins, table-driven."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from qiloop.core.records import Box, DatasetSnapshot, LabelRecord
from qiloop.training.card import MAX_BOXES_BIN, SIZE_EDGES, DatasetCard, make_card


def record(i: int, boxes: list[tuple[float, float]], size=(450, 300)) -> LabelRecord:
    return LabelRecord(
        image_uri=f"img-{i}",
        image_sha256=f"{i:064x}",
        image_width=size[0],
        image_height=size[1],
        image_depth=3,
        annotations=tuple(Box(class_id=0, left=0, top=0, width=w, height=h) for w, h in boxes),
        event_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )


@pytest.fixture
def items():
    return [
        (record(0, []), "train"),
        (record(1, [(5, 5), (20, 40)]), "train"),
        (record(2, [(300, 200)] * 12), "train"),
        (record(3, [(64, 64)]), "test"),
        (record(4, [], size=(640, 480)), "val"),
    ]


def snapshot(items):
    return DatasetSnapshot(label_store_version=2, record_ids=tuple(r.record_id for r, _ in items))


def test_counts_per_split(items):
    card = make_card(items, snapshot(items), ["scratch"])
    assert list(card.splits) == ["train", "val", "test"]
    train = card.splits["train"]
    assert (train.images, train.boxes, train.negatives) == (3, 14, 1)
    assert train.boxes_per_class == {"scratch": 14}
    assert train.boxes_per_image[0] == 1 and train.boxes_per_image[2] == 1
    assert train.boxes_per_image[MAX_BOXES_BIN] == 1  # 12 boxes share the last bin
    assert card.splits["val"].negatives == 1 and card.splits["test"].boxes == 1
    assert card.total.images == 5 and card.total.boxes == 15
    assert card.image_size == (450, 300)  # the most common size
    assert card.label_store_version == 2


@pytest.mark.parametrize(
    ("side", "bin_index"), [(5, 0), (8, 1), (20, 2), (40, 3), (64, 4), (200, 5), (300, 6), (600, 7)]
)
def test_box_size_bins(side, bin_index):
    items = [(record(0, [(side, min(side, 300))], size=(1000, 300)), "train")]
    hist = make_card(items, snapshot(items), ["scratch"]).splits["train"].width_hist
    assert len(hist) == len(SIZE_EDGES) and hist[bin_index] == 1 and sum(hist) == 1


def test_json_round_trip_and_png(items, tmp_path):
    card = make_card(items, snapshot(items), ["scratch"])
    assert DatasetCard.load(card.save_json(tmp_path / "card.json")) == card
    png = card.save_png(tmp_path / "card.png").read_bytes()
    assert png.startswith(b"\x89PNG")
