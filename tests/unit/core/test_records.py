from datetime import datetime, timedelta, timezone

import pytest

from qiloop.core.errors import InvalidRecordError
from qiloop.core.records import Box, DatasetSnapshot, ImageRecord, LabelRecord, LabelStatus

SHA = "ab" * 32
T0 = datetime(2022, 7, 7, 13, 4, 32, tzinfo=timezone.utc)


def label(**over):
    base = dict(
        image_uri="images/a.jpg",
        image_sha256=SHA,
        image_width=450,
        image_height=300,
        image_depth=3,
        annotations=[Box(class_id=0, left=81, top=123, width=82, height=97)],
        event_time=T0,
        labeling_job="job-1",
    )
    base.update(over)
    return LabelRecord(**base)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        (dict(left=-1), "left"),
        (dict(top=-0.5), "top"),
        (dict(width=0), "width"),
        (dict(height=-3), "height"),
        (dict(width=float("nan")), "finite"),
        (dict(left=float("inf")), "finite"),
        (dict(class_id=-1), "class_id"),
        (dict(score=1.5), "score"),
    ],
)
def test_box_rejects_invalid_values(fields, fragment):
    values = dict(class_id=0, left=1, top=2, width=3, height=4) | fields
    with pytest.raises(InvalidRecordError, match=fragment) as info:
        Box(**values)
    assert info.value.hint


def test_box_geometry():
    box = Box(class_id=1, left=10, top=20, width=30, height=40, score=0.5)
    assert box.xyxy == (10, 20, 40, 60)
    assert Box.from_xyxy(*box.xyxy, class_id=1, score=0.5) == box
    assert box.fits(40, 60) and not box.fits(39, 60)


def test_label_rejects_box_outside_image():
    with pytest.raises(InvalidRecordError, match="outside the 100x300 image"):
        label(image_width=100)


@pytest.mark.parametrize("field", ["image_width", "image_height"])
def test_label_rejects_non_positive_size(field):
    with pytest.raises(InvalidRecordError, match=field):
        label(**{field: 0})


def test_label_rejects_bad_sha():
    with pytest.raises(InvalidRecordError, match="image_sha256"):
        label(image_sha256="xyz")


def test_record_id_is_content_derived_and_stable():
    a, b = label(), label()
    assert a.record_id == b.record_id and len(a.record_id) == 32
    assert label(status=LabelStatus.REJECTED).record_id != a.record_id
    assert label(event_time=T0 + timedelta(seconds=1)).record_id != a.record_id
    assert label(record_id="explicit").record_id == "explicit"


def test_record_id_is_pinned():
    # Ids are stored: changing how they are derived would duplicate every re-imported record.
    assert label().record_id == "e702ec7a76bdd0a301bb091412083e81"


def test_times_normalise_to_utc():
    naive = label(event_time=datetime(2022, 7, 7, 13, 4, 32))
    assert naive.event_time == T0
    cet = timezone(timedelta(hours=2))
    assert label(event_time=T0.astimezone(cet)).event_time.tzinfo == timezone.utc
    assert label(event_time=1657199072.0).event_time == T0


def test_records_are_frozen():
    rec = label()
    with pytest.raises(ValueError):
        rec.status = LabelStatus.REJECTED


def test_image_record_validates():
    rec = ImageRecord(uri="x", sha256=SHA, width=450, height=300, depth=3, format="jpeg", size_bytes=10, group="g")
    assert rec.group == "g"
    with pytest.raises(InvalidRecordError, match="format"):
        ImageRecord(uri="x", sha256=SHA, width=4, height=3, depth=3, format="gif", size_bytes=10, group="g")


def test_snapshot_fingerprint_and_split_check():
    snap = DatasetSnapshot(label_store_version=3, record_ids=("b", "a"), splits={"train": ("a",)})
    same = DatasetSnapshot(label_store_version=3, record_ids=("a", "b"))
    assert snap.fingerprint == same.fingerprint
    assert DatasetSnapshot(label_store_version=4, record_ids=("a", "b")).fingerprint != snap.fingerprint
    with pytest.raises(InvalidRecordError, match="not in the snapshot"):
        DatasetSnapshot(label_store_version=3, record_ids=("a",), splits={"test": ("z",)})
