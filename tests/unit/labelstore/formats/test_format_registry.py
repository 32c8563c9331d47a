import io
from datetime import datetime, timezone

import pytest
from PIL import Image

from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box
from qiloop.labelstore import formats
from qiloop.labelstore.formats.draft import LabelDraft

T0 = datetime(2022, 7, 7, tzinfo=timezone.utc)
DRAFTS = [
    LabelDraft("s3://b/images/a.jpg", 40, 30, 3, (Box(class_id=0, left=4, top=3, width=20, height=15),), T0, "job"),
    LabelDraft("s3://b/images/b.jpg", 40, 30, 3, (), T0, "job"),
]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("labels.csv", "labels-csv"),
        ("out.manifest", "groundtruth"),
        ("out.JSONL", "groundtruth"),
        ("instances.json", "coco"),
        ("data.yaml", "yolo"),
    ],
)
def test_detect_by_name(tmp_path, name, fmt):
    assert formats.detect(tmp_path / name) == fmt


def test_detect_folder_and_refusals(tmp_path):
    (tmp_path / "data.yaml").write_text("names: [a]\n")
    assert formats.detect(tmp_path) == "yolo"
    for path in (tmp_path / "labels.txt", tmp_path / "empty-dir"):
        with pytest.raises(ConfigurationError, match="cannot tell the label format"):
            formats.detect(path)
    with pytest.raises(ConfigurationError, match="unknown label format 'voc'") as caught:
        formats.get("voc")
    assert "labels-csv" in caught.value.hint


@pytest.mark.parametrize(
    ("fmt", "name", "options"),
    [
        ("labels-csv", "l.csv", {}),
        ("groundtruth", "o.manifest", {"classes": ["scratch"]}),
        ("coco", "c.json", {"classes": ["scratch"]}),
    ],
)
def test_write_any_then_read_any_round_trips(tmp_path, fmt, name, options):
    path = formats.write_any(tmp_path / name, DRAFTS, fmt, **options)
    result = formats.read_any(path)
    assert result.ok and result.drafts == DRAFTS


def test_yolo_write_any_names_images_after_their_reference(tmp_path):
    out = io.BytesIO()
    Image.new("RGB", (40, 30)).save(out, "JPEG")
    report = formats.write_any(tmp_path, DRAFTS, "yolo", classes=["scratch"], fetch=lambda ref: out.getvalue())
    assert report.images == 2 and not report.errors
    result = formats.read_any(tmp_path, event_time=T0)
    assert sorted(d.image_ref.rsplit("/", 1)[1] for d in result.drafts) == ["a.jpg", "b.jpg"]
    assert [b.xyxy for d in result.drafts for b in d.annotations] == [pytest.approx((4, 3, 24, 18))]
