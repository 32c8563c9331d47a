"""Bad input in a label file is one refused row with its line and reason, never an aborted parse.

Each case once aborted the whole file with a traceback: an event time out of
range, a class id too large for the store's int32 column, a cell over the csv
module's field limit, a JSON line nested 100,000 levels deep. A file that is
not UTF-8, or is no regular file, is refused as a whole with a clear reason.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from qiloop.core.errors import FormatError
from qiloop.labelstore.formats import coco, groundtruth, labels_csv, read_any
from qiloop.labelstore.formats.jsonfields import json_depth, loads_json

BOX = "[{'class_id': %s, 'top': 1, 'left': 1, 'height': 2, 'width': 2}]"
DEEP = "[" * 100_000 + "]" * 100_000


def csv_text(*rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(labels_csv.COLUMNS)
    for ref, ann, time in rows:
        writer.writerow([ref, 450, 300, 3, ann, time, "job", "APPROVED"])
    return out.getvalue()


@pytest.mark.parametrize(
    ("ann", "time", "reason"),
    [
        ("[]", "1e300", "event_time '1e300' is out of range"),
        ("[]", "-1e20", "out of range"),
        (BOX % 2**40, "1657199072.0", "class id 1099511627776, too large for the label store"),
        (BOX % (2**31 - 1), "1657199072.0", None),  # the largest class id the store holds
        ("[" + " " * 200_000 + "]", "1657199072.0", "field larger than field limit"),
        ("[" * 10_000 + "]" * 10_000, "1657199072.0", "not a Python literal"),
    ],
)
def test_labels_csv_bad_row_is_reported_with_its_line_and_the_rest_parses(ann, time, reason):
    result = labels_csv.loads(csv_text(("a.jpg", "[]", "1657199072.0"), ("bad.jpg", ann, time), ("c.jpg", "[]", "1")))
    if reason is None:
        assert not result.errors and len(result.drafts) == 3
        return
    assert [d.image_ref for d in result.drafts] == ["a.jpg", "c.jpg"]
    (error,) = result.errors
    assert error.line == 3 and reason in error.message


def test_labels_csv_line_numbers_count_physical_lines_after_a_multiline_cell():
    text = csv_text(("a.jpg", "[\n]", "1657199072.0"), ("b.jpg", "[]", "1e300"))
    (error,) = labels_csv.loads(text).errors
    assert error.line == 4  # header 1, the quoted cell spans lines 2-3


def test_labels_csv_unreadable_header_is_one_error():
    result = labels_csv.loads('"' + "x" * 200_000 + '"\n' + csv_text(("a.jpg", "[]", "1")))
    assert not result.drafts
    (error,) = result.errors
    assert error.line == 1 and "unreadable header" in error.message


def manifest_line(ref: str, *, class_id=0, date="2022-07-07T12:34:56", width=450) -> str:
    entry = {
        "source-ref": ref,
        "bounding-box": {
            "image_size": [{"width": width, "height": 300, "depth": 3}],
            "annotations": [{"class_id": class_id, "left": 1, "top": 1, "width": 2, "height": 2}],
        },
        "bounding-box-metadata": {"type": "groundtruth/object-detection", "creation-date": date, "job-name": "j"},
    }
    return json.dumps(entry)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (DEEP, "nested 100,000 levels deep"),
        ('{"source-ref": "' + "x" * (groundtruth.MAX_LINE_CHARS + 1) + '"}', "above the limit"),
        (manifest_line("b.jpg", class_id=2**40), "class_id 1099511627776 is out of range"),
        (manifest_line("b.jpg", width=2**40), "width 1099511627776 is out of range"),
        (manifest_line("b.jpg", class_id=1e300), "class_id 1e+300 is out of range"),
        (manifest_line("b.jpg", date="0001-01-01T00:00:00+14:00"), "out of range in UTC"),
    ],
)
def test_groundtruth_bad_line_is_reported_with_its_line_and_the_rest_parses(bad, reason):
    text = "\n".join([manifest_line("a.jpg"), bad, manifest_line("c.jpg")])
    result = groundtruth.loads(text)
    assert [d.image_ref for d in result.drafts] == ["a.jpg", "c.jpg"]
    (error,) = result.errors
    assert error.line == 2 and reason in error.message


def coco_doc(bad_image: dict) -> str:
    images = [{"id": 1, "file_name": "a.jpg", "width": 450, "height": 300}, {"id": 2, **bad_image}]
    images.append({"id": 3, "file_name": "c.jpg", "width": 450, "height": 300})
    doc = {"info": {"date_created": "2022-07-07T12:34:56"}, "images": images, "annotations": [], "categories": []}
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ({"file_name": "b.jpg", "width": 2**40, "height": 300}, "width 1099511627776 is out of range"),
        ({"file_name": "b.jpg", "width": 1e300, "height": 300}, "width 1e+300 is out of range"),
        (
            {"file_name": "b.jpg", "width": 450, "height": 300, "qiloop": {"event_time": "9999-12-31T23:00:00-14:00"}},
            "out of range in UTC",
        ),
    ],
)
def test_coco_bad_image_is_reported_with_its_index_and_the_rest_parses(image, reason):
    result = coco.loads(coco_doc(image))
    assert [d.image_ref for d in result.drafts] == ["a.jpg", "c.jpg"]
    (error,) = result.errors
    assert error.line == 2 and reason in error.message


def test_coco_document_nested_too_deep_is_refused_as_a_whole():
    result = coco.loads('{"images": ' + DEEP + ', "categories": []}')
    assert not result.drafts
    (error,) = result.errors
    assert "nested 100,001 levels deep" in error.message


@pytest.mark.parametrize(
    ("text", "depth"),
    [("1", 0), ("[]", 1), ('{"a": [1, {"b": 2}]}', 3), ('["[[[{{", "\\"[["]', 1), (DEEP, 100_000)],
)
def test_json_depth(text, depth):
    assert json_depth(text) == depth


def test_loads_json_refuses_deep_nesting_before_parsing():
    with pytest.raises(FormatError, match="nested 65 levels deep"):
        loads_json("[" * 65 + "]" * 65)
    assert loads_json("[" * 64 + "]" * 64) is not None


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("labels.csv", csv_text(("a.jpg", "[]", "1")).encode() + "caf\u00e9.jpg".encode("latin-1"), 3),
        ("out.manifest", (manifest_line("a.jpg") + "\n").encode() + b'{"source-ref": "\xff"}', 2),
        ("coco.json", b'{"images": [], "info": {"description": "\xe9"}}', 1),
    ],
)
def test_a_file_that_is_not_utf8_is_refused_naming_line_and_byte(tmp_path, name, content, line):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FormatError, match="the file is not UTF-8: byte 0x") as caught:
        read_any(path)
    assert caught.value.line == line
    assert "save the file as UTF-8" in caught.value.hint


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a POSIX system")
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_label_file_that_is_no_regular_file_is_refused_unread(tmp_path, kind):
    path = tmp_path / "labels.csv"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(Path("/dev/zero"))
    with pytest.raises(FormatError, match="not a regular file"):
        read_any(path)


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a POSIX system")
@pytest.mark.parametrize(("kind", "reason"), [("fifo", "not a regular file"), ("latin1", "not UTF-8")])
def test_a_yolo_data_yaml_that_cannot_be_read_is_reported(tmp_path, kind, reason):
    pytest.importorskip("yaml")
    if kind == "fifo":
        os.mkfifo(tmp_path / "data.yaml")
    else:
        (tmp_path / "data.yaml").write_bytes("names: [caf\u00e9]\n".encode("latin-1"))
    result = read_any(tmp_path, "yolo")
    assert not result.drafts
    (error,) = result.errors
    assert reason in error.message
