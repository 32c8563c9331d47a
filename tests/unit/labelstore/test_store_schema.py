"""Records <-> Arrow rows, exactly; and the checks on rows that arrive as a table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from qiloop.core.errors import InvalidRecordError
from qiloop.core.records import Box, LabelRecord, LabelSource, LabelStatus
from qiloop.labelstore.append import stamp
from qiloop.labelstore.schema import SCHEMA, records_to_table, table_to_records
from qiloop.labelstore.validate import prepare

T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
WRITTEN = datetime(2024, 3, 2, 8, 30, 0, 1, tzinfo=timezone.utc)


def record(**over) -> LabelRecord:
    fields = dict(
        image_uri="images/ab/abc.jpg",
        image_sha256="ab" * 32,
        image_width=450,
        image_height=300,
        image_depth=3,
        event_time=T0,
    )
    return LabelRecord(**(fields | over))


ROUND_TRIP = {
    "no boxes, defaults": record(),
    "boxes with and without score": record(
        annotations=(
            Box(class_id=0, left=81, top=123, width=82, height=97),
            Box(class_id=2, left=0.5, top=1.25, width=3, height=4, score=0.875),
        ),
    ),
    "score zero and one": record(
        annotations=(
            Box(class_id=0, left=1, top=1, width=1, height=1, score=0.0),
            Box(class_id=0, left=1, top=1, width=1, height=1, score=1.0),
        )
    ),
    "provenance": record(
        annotators=("alice", "bob", "carol"),
        agreement=0.6667,
        verifier="dave",
        source=LabelSource.HUMAN,
        labeling_job="job-7",
    ),
    "rejected by model": record(status=LabelStatus.REJECTED, source=LabelSource.MODEL, agreement=0.0),
    "pending, gray image": record(status=LabelStatus.PENDING_VERIFICATION, image_depth=1),
    "other time zone": record(event_time=datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5)))),
    "explicit record id": record(record_id="my-own-id"),
    "unicode": record(image_uri="s3://bucket/é/ü.jpg", labeling_job="prüfung", annotators=("zoë",)),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_round_trip_is_exact(name):
    original = ROUND_TRIP[name]
    table = records_to_table([original], WRITTEN)
    assert table.schema == SCHEMA
    (back,) = table_to_records(table)
    assert back == original.model_copy(update={"write_time": WRITTEN})
    assert back.record_id == original.record_id


def test_many_records_keep_order_and_boxes():
    records = [
        record(
            event_time=T0 + timedelta(seconds=i),
            annotations=(Box(class_id=i % 3, left=i, top=0, width=1, height=1),) * (i % 4),
        )
        for i in range(50)
    ]
    back = table_to_records(records_to_table(records, WRITTEN))
    assert [len(r.annotations) for r in back] == [i % 4 for i in range(50)]
    assert back == [r.model_copy(update={"write_time": WRITTEN}) for r in records]


def test_empty_batch_gives_empty_table():
    table = records_to_table([], WRITTEN)
    assert table.num_rows == 0 and table.schema == SCHEMA


def rows(**columns) -> pa.Table:
    base = {
        "record_id": ["r1", "r2"],
        "image_uri": ["a.jpg", "b.jpg"],
        "image_sha256": ["a" * 64, "b" * 64],
        "image_width": [100, 100],
        "image_height": [50, 50],
        "image_depth": [3, 3],
        "event_time": pa.array([T0, T0], pa.timestamp("us", "UTC")),
    }
    return pa.table(base | columns)


def test_prepare_fills_defaults_and_matches_records():
    good, errors = prepare(rows())
    assert errors == []
    (first, _) = table_to_records(stamp(good, WRITTEN))
    expected = LabelRecord(
        image_uri="a.jpg",
        image_sha256="a" * 64,
        image_width=100,
        image_height=50,
        image_depth=3,
        event_time=T0,
        record_id="r1",
    )
    assert first == expected.model_copy(update={"write_time": WRITTEN})


BOX_TYPE = SCHEMA.field("annotations").type


def boxes(*per_row):
    return pa.array(
        [[dict(class_id=0, left=1.0, top=1.0, width=2.0, height=2.0, score=None) | b for b in row] for row in per_row],
        BOX_TYPE,
    )


BAD_ROWS = [
    ("image_sha256", {"image_sha256": ["A" * 64, "b" * 64]}, "image_sha256"),
    ("empty id", {"record_id": ["", "r2"]}, "record_id is empty"),
    ("zero width", {"image_width": [0, 100]}, "image_width"),
    ("depth", {"image_depth": [5, 3]}, "image_depth"),
    ("status", {"status": ["DONE", "APPROVED"]}, "unknown status"),
    ("source", {"source": ["robot", "human"]}, "unknown source"),
    ("agreement", {"agreement": [1.5, None]}, "agreement"),
    ("agreement nan", {"agreement": [float("nan"), 0.5]}, "agreement"),
    ("box outside", {"annotations": boxes([{"left": 99.0}], [])}, "right edge"),
    ("box below", {"annotations": boxes([{"top": 49.0}], [])}, "bottom edge"),
    ("box no area", {"annotations": boxes([{"width": 0.0}], [{}])}, "no area"),
    ("box score", {"annotations": boxes([{"score": 2.0}], [{"score": 0.5}])}, "score"),
    ("negative class", {"annotations": boxes([{"class_id": -1}], [])}, "class_id"),
    ("missing event", {"event_time": pa.array([None, T0], pa.timestamp("us", "UTC"))}, "event_time is missing"),
]


@pytest.mark.parametrize(("name", "change", "reason"), BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_prepare_reports_bad_row_and_keeps_the_good_one(name, change, reason):
    good, errors = prepare(rows(**change))
    assert good.column("record_id").to_pylist() == ["r2"]
    assert len(errors) == 1 and errors[0].startswith("row 0 (record_id ") and reason in errors[0]


def test_prepare_needs_required_columns():
    with pytest.raises(InvalidRecordError, match="image_sha256"):
        prepare(rows().drop_columns(["image_sha256"]))


def test_prepare_refuses_unusable_types():
    with pytest.raises(InvalidRecordError, match="image_width"):
        prepare(rows(image_width=["wide", "narrow"]))


def test_naive_event_times_are_taken_as_utc():
    good, _ = prepare(rows(event_time=pa.array([T0.replace(tzinfo=None)] * 2, pa.timestamp("us"))))
    assert table_to_records(stamp(good, WRITTEN))[0].event_time == T0
