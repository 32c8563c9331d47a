import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import pytest

from qiloop.core.errors import FormatError, InvalidRecordError
from qiloop.core.records import Box, LabelStatus
from qiloop.labelstore.formats import labels_csv
from require_helpers import require

DATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "data" / "metal-tags"
HEADER = ",".join(labels_csv.COLUMNS)


def row(ref="a.jpg", ann="[]", time="1657199072.0", status="APPROVED", size=("450", "300", "3"), job="job-1"):
    out = io.StringIO()
    csv.writer(out).writerow([ref, *size, ann, time, job, status])
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", ()),
        ("", ()),
        (
            "[{'class_id': 0, 'top': 123, 'left': 81, 'height': 97, 'width': 82}]",
            (Box(class_id=0, left=81, top=123, width=82, height=97),),
        ),
        (
            "[{'class_id': 2, 'top': 1.5, 'left': 0.25, 'height': 3, 'width': 4, 'score': 0.5}]",
            (Box(class_id=2, left=0.25, top=1.5, width=4, height=3, score=0.5),),
        ),
    ],
)
def test_parse_annotations_table(text, expected):
    assert labels_csv.parse_annotations(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[{'class_id': 0", "not a Python literal"),
        ("__import__('os').system('true')", "not a Python literal"),
        ("[{[1]: 2}]", "not a Python literal"),
        ("{'class_id': 0}", "list of dicts"),
        ("[1, 2]", "list of dicts"),
        ("[{'class_id': 0, 'top': 1, 'left': 1, 'height': 1}]", "lacks width"),
        ("[{'class_id': 0, 'top': 1, 'left': 1, 'height': 1, 'width': -5}]", "width"),
    ],
)
def test_parse_annotations_rejects(text, match):
    with pytest.raises((FormatError, InvalidRecordError), match=match):
        labels_csv.parse_annotations(text)


@pytest.mark.parametrize(
    ("boxes", "text"),
    [
        ((), "[]"),
        (
            (Box(class_id=0, left=81, top=123, width=82, height=97),),
            "[{'class_id': 0, 'top': 123, 'left': 81, 'height': 97, 'width': 82}]",
        ),
        (
            (Box(class_id=1, left=0.5, top=2, width=3.25, height=4, score=0.9),),
            "[{'class_id': 1, 'top': 2, 'left': 0.5, 'height': 4, 'width': 3.25, 'score': 0.9}]",
        ),
    ],
)
def test_format_annotations_table(boxes, text):
    assert labels_csv.format_annotations(boxes) == text
    assert labels_csv.parse_annotations(text) == boxes


def test_round_trip_is_byte_exact_and_keeps_microseconds():
    text = (
        HEADER
        + "\r\n"
        + row(time="1657199072.123456")
        + row(ref="b.jpg", ann="[{'class_id': 0, 'top': 1, 'left': 2, 'height': 3, 'width': 4}]", status="REJECTED")
    )
    result = labels_csv.loads(text)
    assert result.ok and len(result.drafts) == 2
    assert result.drafts[0].event_time == datetime(2022, 7, 7, 13, 4, 32, 123456, tzinfo=timezone.utc)
    assert result.drafts[1].status is LabelStatus.REJECTED
    assert labels_csv.dumps(result.drafts) == text


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (row(ann="[{'class_id': 0"), "not a Python literal"),
        (row(ann="[{'class_id': 0, 'top': 1, 'left': 1, 'height': 1}]"), "lacks width"),
        (row(status="DONE"), "unknown status 'DONE'"),
        (row(time="yesterday"), "not Unix seconds"),
        (row(time="nan"), "not a finite number"),
        (row(size=("450", "wide", "3")), "not an integer"),
        (row(ann="[{'class_id': 0, 'top': 250, 'left': 1, 'height': 100, 'width': 1}]"), "outside the 450x300 image"),
        (row(ref=""), "source_ref is empty"),
        ("a.jpg,450,300,3,[],1.0,job\r\n", "expected 8 fields, found 7"),
        ("a.jpg,450,300,3,[{'class_id': 0}, {}],1.0,job,APPROVED\r\n", "expected 8 fields, found 9"),
    ],
)
def test_bad_row_is_reported_with_its_line_and_the_rest_parses(bad, match):
    text = HEADER + "\r\n" + row(ref="first.jpg") + bad + row(ref="last.jpg")
    result = labels_csv.loads(text, source="x.csv")
    assert [d.image_ref for d in result.drafts] == ["first.jpg", "last.jpg"]
    assert [d.line for d in result.drafts] == [2, 4]
    assert len(result.errors) == 1
    error = result.errors[0]
    assert (error.source, error.line) == ("x.csv", 3)
    assert match in error.message


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        ("", "the file is empty", None),
        ("source_ref,image_width,annotations\r\n" + row(), "missing column(s) image_height", 1),
    ],
)
def test_unusable_file_is_one_error(text, match, line):
    result = labels_csv.loads(text)
    assert result.drafts == []
    assert len(result.errors) == 1 and match in result.errors[0].message
    assert result.errors[0].line == line


def test_header_only_and_blank_rows_give_nothing():
    result = labels_csv.loads(HEADER + "\r\n\r\n")
    assert result.ok and result.drafts == []


@pytest.mark.realdata
def test_real_labels_csv_parses_completely_and_writes_back_byte_for_byte():
    path = DATA / "labels.csv"
    if not path.is_file():
        require("realdata", f"real data not found at {path.resolve()}")
    text = path.read_bytes().decode("utf-8-sig")
    result = labels_csv.loads(text, source=str(path))
    assert result.ok, result.errors[:3]
    assert len(result.drafts) == 195
    assert sum(len(d.annotations) for d in result.drafts) == 403
    first = result.drafts[0]
    assert first.image_ref.endswith("bad/image-2020-04-22-11-07-29-26-cropped-left-top.jpg")
    assert [b.xyxy for b in first.annotations] == [(81, 123, 163, 220), (180, 119, 252, 189), (286, 79, 338, 161)]
    assert labels_csv.dumps(result.drafts) == text
