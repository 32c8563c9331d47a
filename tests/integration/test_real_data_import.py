"""Importing the real labels.csv gives 195 records with the same boxes, pixel for pixel."""

from __future__ import annotations

import pytest

from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.storage import ImageStore

pytestmark = pytest.mark.realdata


@pytest.fixture
def stores(tmp_path):
    return ImageStore.from_url(str(tmp_path / "images")), LabelStore.from_url(str(tmp_path / "labels"))


def test_real_labels_import_pixel_for_pixel(real_data, stores):
    images, labels = stores
    parsed = labels_csv.read(real_data / "labels.csv")
    report = import_parsed(parsed, images, labels, images_root=real_data)
    assert report.errors == []
    assert (report.written, report.images) == (195, 195)

    stored = {r.image_uri: r for r in labels.latest()}
    assert len(stored) == 195
    by_name = {images.get(r.image_sha256).original_name: r for r in stored.values()}
    for draft in parsed.drafts:
        record = by_name[draft.image_ref.rsplit("/", 1)[-1]]
        assert [b.xyxy for b in record.annotations] == [b.xyxy for b in draft.annotations]
        assert (record.image_width, record.image_height, record.image_depth) == (450, 300, 3)
        assert record.event_time == draft.event_time and record.labeling_job == draft.labeling_job
    assert sum(len(r.annotations) for r in stored.values()) == 403

    again = import_parsed(parsed, images, labels, images_root=real_data)
    assert (again.written, again.already_present) == (0, 195)


def test_unlabelled_real_images_are_the_next_job(real_data, stores):
    images, labels = stores
    import_parsed(labels_csv.read(real_data / "labels.csv"), images, labels, images_root=real_data)
    report = images.ingest([real_data / "images"])
    assert report.rejected == []
    total = len(images)
    todo = images.unlabeled(labels.labeled_sha256s())
    assert len(todo) == total - 195 > 0
    assert all(r.sha256 not in labels.labeled_sha256s() for r in todo)


def test_export_yolo_keeps_groups_in_one_split(real_data, stores, tmp_path):
    from qiloop.labelstore.exporter import export_labels

    images, labels = stores
    import_parsed(labels_csv.read(real_data / "labels.csv"), images, labels, images_root=real_data)
    summary = export_labels(labels, images, "yolo", tmp_path / "yolo")
    assert summary.errors == [] and summary.images == 195 and sum(summary.splits.values()) == 195
    split_of_group: dict[str, str] = {}
    for split in summary.splits:
        for path in (tmp_path / "yolo" / "images" / split).iterdir():
            group = path.name.split("-cropped")[0]
            assert split_of_group.setdefault(group, split) == split, f"{group} is in two splits"
    lines = [ln for f in (tmp_path / "yolo" / "labels").rglob("*.txt") for ln in f.read_text().splitlines()]
    assert len(lines) == 403
