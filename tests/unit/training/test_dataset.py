"""build_dataset: the label store as of a moment, split by image group, as a YOLO folder and a card."""

from __future__ import annotations

import pytest
import yaml

from qiloop.core.errors import ConfigurationError
from qiloop.core.splits import split_of
from qiloop.labelstore.exporter import export_labels
from qiloop.training.card import DatasetCard
from qiloop.training.dataset import CARD_JSON, CARD_PNG, build_dataset

RATIOS = {"train": 0.5, "val": 0.25, "test": 0.25}  # seed 5's six photos fall in every split


@pytest.fixture(scope="module")
def built(stores, tmp_path_factory):
    return build_dataset(stores.labels, stores.images, tmp_path_factory.mktemp("ds") / "dataset", ratios=RATIOS)


def _group(stores, record):
    return stores.images.get(record.image_sha256).group


def test_every_record_lands_in_exactly_one_split(built, stores):
    snap = built.snapshot
    assert built.errors == []
    assert set(snap.splits) == {"train", "val", "test"}
    ids = [i for split in snap.splits.values() for i in split]
    assert len(ids) == len(set(ids)) == len(snap.record_ids) == 24
    assert set(ids) <= set(snap.record_ids)


def test_no_group_in_two_splits(built, stores):
    records = stores.labels.records(built.snapshot.record_ids, version=built.snapshot.label_store_version)
    by_id = {r.record_id: r for r in records}
    seen: dict[str, str] = {}
    for split, ids in built.snapshot.splits.items():
        for rid in ids:
            group = _group(stores, by_id[rid])
            assert seen.setdefault(group, split) == split, f"group {group} is in {seen[group]} and {split}"
            assert split_of(group, RATIOS) == split
    assert len(seen) == 6  # six photos, four crops each


def test_folder_matches_the_splits(built):
    doc = yaml.safe_load(built.data_yaml.read_text())
    assert doc["names"] == {0: "scratch"} and {"train", "val", "test"} <= set(doc)
    for split, ids in built.snapshot.splits.items():
        assert len(built.images(split)) == len(ids)
        assert len(list((built.root / "labels" / split).glob("*.txt"))) == len(ids)


def test_card_counts_match_the_records(built, stores):
    records = {r.record_id: r for r in stores.labels.records(built.snapshot.record_ids)}
    for split, ids in built.snapshot.splits.items():
        stats = built.card.splits[split]
        mine = [records[i] for i in ids]
        assert stats.images == len(mine)
        assert stats.boxes == sum(len(r.annotations) for r in mine) == stats.boxes_per_class.get("scratch", 0)
        assert stats.negatives == sum(not r.annotations for r in mine)
        assert sum(stats.boxes_per_image) == stats.images
        assert sum(stats.width_hist) == sum(stats.height_hist) == stats.boxes
    assert built.card.total.images == 24
    assert built.image_size == (450, 300)
    assert built.card.fingerprint == built.snapshot.fingerprint


def test_card_saved_as_json_and_png(built):
    assert DatasetCard.load(built.root / CARD_JSON) == built.card
    png = (built.root / CARD_PNG).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_adding_images_never_moves_a_group(stores, tmp_path):
    early = build_dataset(stores.labels, stores.images, tmp_path / "early", as_of=stores.versions[0], ratios=RATIOS)
    late = build_dataset(stores.labels, stores.images, tmp_path / "late", ratios=RATIOS)
    assert len(early.snapshot.record_ids) == 12 and len(late.snapshot.record_ids) == 24
    split_late = {rid: s for s, ids in late.snapshot.splits.items() for rid in ids}
    for split, ids in early.snapshot.splits.items():
        assert all(split_late[rid] == split for rid in ids)


def test_label_export_uses_the_same_split_assignment(built, stores, tmp_path):
    summary = export_labels(stores.labels, stores.images, "yolo", tmp_path / "yolo", ratios=RATIOS)
    assert summary.errors == []
    for split in built.snapshot.splits:
        exported = sorted(p.name for p in (tmp_path / "yolo" / "images" / split).iterdir())
        assert exported == [p.name for p in built.images(split)]


def test_rebuild_replaces_an_earlier_build_but_refuses_other_folders(stores, tmp_path):
    out = tmp_path / "ds"
    build_dataset(stores.labels, stores.images, out, ratios=RATIOS)
    stale = out / "images" / "train" / "stale.jpg"
    stale.write_bytes(b"old")
    build_dataset(stores.labels, stores.images, out, ratios=RATIOS)
    assert not stale.exists()

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigurationError, match="not empty"):
        build_dataset(stores.labels, stores.images, foreign, ratios=RATIOS)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_an_empty_validation_split_is_refused(stores, tmp_path):
    ratios = {"train": 0.97, "val": 0.01, "test": 0.02}
    groups = {stores.images.get(r.image_sha256).group for r in stores.labels.latest()}
    assert all(split_of(g, ratios) != "val" for g in groups)  # precondition of this case
    with pytest.raises(ConfigurationError, match="val split is empty") as info:
        build_dataset(stores.labels, stores.images, tmp_path / "ds", ratios=ratios)
    assert "ratios" in info.value.hint
    assert not (tmp_path / "ds" / "images").exists()
