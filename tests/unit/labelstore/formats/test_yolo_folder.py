import io
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from PIL import Image

from qiloop.core.errors import NotFoundError
from qiloop.core.records import Box, LabelRecord, LabelSource, LabelStatus
from qiloop.labelstore.formats import yolo_folder
from qiloop.labelstore.formats.draft import LabelDraft

T0 = datetime(2022, 7, 7, 12, 0, tzinfo=timezone.utc)


def encode(fmt="JPEG", size=(40, 30), mode="RGB", orientation=None):
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    Image.new(mode, size, 128).save(out, fmt, exif=exif)
    return out.getvalue()


def draft(ref, boxes=(), size=(40, 30), depth=3):
    return LabelDraft(ref, size[0], size[1], depth, tuple(boxes), T0, labeling_job="job")


IMAGES = {"a": encode(), "b": encode("PNG", mode="L"), "c": encode(), "rot": encode(size=(40, 30), orientation=6)}
CLASSES = ["scratch", "dent", "crack"]


def fetch(ref):
    if ref not in IMAGES:
        raise NotFoundError(f"no image {ref!r}")
    return IMAGES[ref]


def test_export_then_read_round_trips(tmp_path):
    items = [
        (
            draft(
                "a",
                [
                    Box(class_id=0, left=1, top=2, width=10, height=5),
                    Box(class_id=2, left=0.5, top=0, width=39.5, height=30, score=0.25),
                ],
            ),
            "train",
            "a.jpg",
        ),
        (draft("b", depth=1), "val", "b.png"),  # a negative
        (draft("c", [Box(class_id=1, left=3, top=3, width=4, height=4)]), "train", "c.jpg_3"),  # no image suffix
    ]
    report = yolo_folder.export(tmp_path, items, CLASSES, fetch)
    assert (report.images, report.boxes, report.errors) == (3, 3, [])
    assert (tmp_path / "labels/val/b.txt").read_text() == ""
    assert (tmp_path / "images/train/c.jpg_3.jpg").read_bytes() == IMAGES["c"]
    doc = yaml.safe_load((tmp_path / "data.yaml").read_text())
    assert doc == {
        "path": str(tmp_path.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(CLASSES)),
    }

    result = yolo_folder.read(tmp_path, event_time=T0)
    assert result.ok, result.errors
    back = {Path(d.image_ref).relative_to(tmp_path.resolve()).as_posix(): d for d in result.drafts}
    assert sorted(back) == ["images/train/a.jpg", "images/train/c.jpg_3.jpg", "images/val/b.png"]
    for original, _, _ in items:
        (got,) = [d for name, d in back.items() if Path(name).stem.startswith(original.image_ref)]
        assert (got.image_width, got.image_height, got.image_depth) == (40, 30, original.image_depth)
        assert (got.event_time, got.status, got.source) == (T0, LabelStatus.APPROVED, LabelSource.IMPORT)
        assert len(got.annotations) == len(original.annotations)
        for a, b in zip(original.annotations, got.annotations, strict=True):
            assert (a.class_id, a.score) == (b.class_id, b.score)
            assert a.xyxy == pytest.approx(b.xyxy, abs=1e-6 * 40)


def test_export_reports_bad_items_and_writes_the_rest(tmp_path):
    good = (draft("a"), "train", "a.jpg")
    items = [
        good,
        (draft("missing"), "train", "m.jpg"),
        (draft("c", size=(41, 30)), "train", "c.jpg"),
        (draft("c", [Box(class_id=5, left=1, top=1, width=1, height=1)]), "train", "c5.jpg"),
        (draft("c"), "train", "a.jpg"),
        (draft("c"), "../up", "c.jpg"),
    ]
    report = yolo_folder.export(tmp_path, items, CLASSES, fetch)
    assert report.images == 1
    messages = [e.message for e in report.errors]
    assert len(messages) == 5
    for expected, message in zip(
        [
            "no image 'missing'",
            "is 40x30 but the label says 41x30",
            "class id(s) [5]",
            "already written",
            "must be plain names",
        ],
        messages,
        strict=True,
    ):
        assert expected in message
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == [
        "data.yaml",
        "images/train/a.jpg",
        "labels/train/a.txt",
    ]


def test_export_takes_stored_records(tmp_path):
    record = LabelRecord(
        image_uri="a",
        image_sha256="0" * 64,
        image_width=40,
        image_height=30,
        image_depth=3,
        annotations=(Box(class_id=0, left=1, top=1, width=2, height=2),),
        event_time=T0,
    )
    report = yolo_folder.export(tmp_path, [(record, "train", "x.jpg")], CLASSES, fetch)
    assert report.images == 1 and (tmp_path / "labels/train/x.txt").read_text().startswith("0 0.050000 0.066667")


def write_dataset(root, labels, names=("scratch",), images=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "names": list(names)}))
    for name, data in (images or {}).items():
        (root / "images/train").mkdir(parents=True, exist_ok=True)
        (root / "images/train" / name).write_bytes(data)
    for name, text in labels.items():
        (root / "labels/train").mkdir(parents=True, exist_ok=True)
        (root / "labels/train" / name).write_text(text)


def test_read_reports_bad_files_and_keeps_the_good_ones(tmp_path):
    images = {
        "ok.jpg": encode(),
        "badline.jpg": encode(),
        "badclass.jpg": encode(),
        "broken.jpg": b"not an image",
        "unlabelled.jpg": encode(),
        "rot.jpg": IMAGES["rot"],
    }
    labels = {
        "ok.txt": "0 0.5 0.5 0.5 0.5\n",
        "badline.txt": "0 0.5 0.5 0.5 0.5\n0 0.5\n",
        "badclass.txt": "1 0.5 0.5 0.1 0.1\n",
        "broken.txt": "",
        "rot.txt": "0 0.5 0.5 0.5 0.5\n",
    }
    write_dataset(tmp_path, labels, images=images)
    when = datetime(2021, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    os.utime(tmp_path / "labels/train/ok.txt", (when.timestamp(), when.timestamp()))
    result = yolo_folder.read(tmp_path / "data.yaml")
    assert sorted(Path(d.image_ref).name for d in result.drafts) == ["ok.jpg", "rot.jpg"]
    ok, rot = sorted(result.drafts, key=lambda d: d.image_ref)
    assert ok.event_time == when  # the label file's modification time
    assert (rot.image_width, rot.image_height) == (30, 40)  # EXIF orientation 6: as ultralytics sees it
    assert rot.annotations[0].xyxy == pytest.approx((7.5, 10, 22.5, 30))
    errors = {Path(e.source).name: e for e in result.errors}
    assert sorted(errors) == ["badclass.txt", "badline.txt", "broken.jpg"]
    assert errors["badline.txt"].line == 2 and "found 2 fields" in errors["badline.txt"].message
    assert "class id(s) [1]" in errors["badclass.txt"].message


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda root: root.mkdir(), "cannot use"),
        (lambda root: write_dataset(root, {}, names=()), "no usable 'names'"),
        (lambda root: (root.mkdir(), (root / "data.yaml").write_text("names: [a\n")), "cannot use"),
    ],
)
def test_read_unusable_folder_is_one_error(tmp_path, setup, match):
    setup(tmp_path / "d")
    result = yolo_folder.read(tmp_path / "d")
    assert result.drafts == [] and len(result.errors) == 1 and match in result.errors[0].message


def test_read_reports_a_missing_split_folder_and_follows_a_moved_dataset(tmp_path):
    write_dataset(tmp_path / "old", {"a.txt": "0 0.5 0.5 0.5 0.5\n"}, images={"a.jpg": encode()})
    (tmp_path / "old").rename(tmp_path / "new")  # data.yaml still names the old path
    doc = yaml.safe_load((tmp_path / "new/data.yaml").read_text()) | {"val": "images/val"}
    (tmp_path / "new/data.yaml").write_text(yaml.safe_dump(doc))
    result = yolo_folder.read(tmp_path / "new")
    assert len(result.drafts) == 1
    assert len(result.errors) == 1 and "split 'val'" in result.errors[0].message
