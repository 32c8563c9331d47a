import random

import pytest

from qiloop.core.errors import FormatError
from qiloop.core.records import Box
from qiloop.labelstore.formats import yolo


@pytest.mark.parametrize(
    ("box", "size", "line"),
    [
        (Box(class_id=0, left=0, top=0, width=450, height=300), (450, 300), "0 0.500000 0.500000 1.000000 1.000000"),
        (Box(class_id=3, left=81, top=123, width=82, height=97), (450, 300), "3 0.271111 0.571667 0.182222 0.323333"),
        (
            Box(class_id=1, left=0.5, top=0.5, width=1, height=1, score=0.875),
            (4, 2),
            "1 0.250000 0.500000 0.250000 0.500000 0.875",
        ),
    ],
)
def test_box_to_line_table(box, size, line):
    assert yolo.box_to_line(box, *size) == line


@pytest.mark.parametrize(
    ("line", "size", "xyxy", "score"),
    [
        ("0 0.5 0.5 1 1", (450, 300), (0, 0, 450, 300), None),
        ("2 0.25 0.5 0.5 1 0.3", (4, 2), (0, 0, 2, 2), 0.3),
        ("0.0 0.5 0.5 0.2 0.2", (10, 10), (4, 4, 6, 6), None),
        # overshoots of less than 1e-6 of the side are clipped to the border
        ("0 0.9999995 0.5 0.000002 0.2", (1000, 10), (999.9985, 4, 1000, 6), None),
        ("0 0.0000005 0.5 0.000002 0.2", (1000, 10), (0, 4, 0.0015, 6), None),
    ],
)
def test_line_to_box_table(line, size, xyxy, score):
    box = yolo.line_to_box(line, *size)
    assert box.xyxy == pytest.approx(xyxy, abs=1e-9)
    assert box.score == score


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("0 0.5 0.5 0.2", "found 4 fields"),
        ("0 0.1 0.1 0.2 0.1 0.2 0.2 0.3", "found 8 fields"),
        ("0 0.5 zero 0.2 0.2", "not a number"),
        ("-1 0.5 0.5 0.2 0.2", "not a class index"),
        ("1.5 0.5 0.5 0.2 0.2", "not a class index"),
        ("0 0.95 0.5 0.2 0.2", "outside"),
        ("0 0.5 0.5 0 0.2", "width"),
        ("0 0.5 0.5 -0.2 0.2", "width"),
        ("0 0.5 0.5 0.2 0.2 1.5", "score"),
    ],
)
def test_line_to_box_rejects(line, match):
    with pytest.raises(FormatError, match=match):
        yolo.line_to_box(line, 450, 300)


def test_polygon_line_gets_a_hint():
    with pytest.raises(FormatError) as caught:
        yolo.line_to_box("0 0.1 0.1 0.2 0.1 0.2 0.2 0.3", 450, 300)
    assert "segmentation" in caught.value.hint


@pytest.mark.parametrize("size", [(450, 300), (4000, 3000), (17, 13), (1, 1)])
def test_round_trip_within_the_stated_tolerance(size):
    width, height = size
    rng = random.Random(sum(size))
    boxes = [Box(class_id=7, left=0, top=0, width=width, height=height)]  # whole pixels, touching every border
    for i in range(300):
        w, h = rng.uniform(1e-3, width), rng.uniform(1e-3, height)
        left, top = rng.uniform(0, width - w), rng.uniform(0, height - h)
        score = None if i % 2 else rng.random()
        boxes.append(Box(class_id=i % 80, left=left, top=top, width=w, height=h, score=score))
    text = yolo.dumps_labels(boxes, width, height)
    back, errors = yolo.loads_labels(text, width, height)
    assert errors == [] and len(back) == len(boxes)
    assert back[0] == boxes[0]  # whole-image box: exact
    for a, b in zip(boxes, back, strict=True):
        assert (b.class_id, b.score) == (a.class_id, a.score)
        for name, side in (("left", width), ("width", width), ("top", height), ("height", height)):
            assert abs(getattr(a, name) - getattr(b, name)) <= 1e-6 * side, (name, a, b)
        assert b.fits(width, height, tolerance=0)


def test_label_file_bad_lines_are_numbered_and_good_lines_kept():
    text = "0 0.5 0.5 0.2 0.2\n\n0 0.5 0.5\n1 0.25 0.25 0.1 0.1\nx 1 1 1 1\n"
    boxes, errors = yolo.loads_labels(text, 100, 100, source="a.txt")
    assert [b.class_id for b in boxes] == [0, 1]
    assert [(e.source, e.line) for e in errors] == [("a.txt", 3), ("a.txt", 5)]


def test_empty_label_file_is_a_negative():
    assert yolo.dumps_labels([], 450, 300) == ""
    assert yolo.loads_labels("", 450, 300) == ([], [])


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("images/train/a.jpg", "labels/train/a.txt"),
        ("/data/images/val/sub/a.b.png", "/data/labels/val/sub/a.b.txt"),
        ("/images/x/images/train/a.jpg_3.jpg", "/images/x/labels/train/a.jpg_3.txt"),
    ],
)
def test_label_path_table(image, label):
    assert yolo.label_path(image) == label


@pytest.mark.parametrize(
    ("doc", "names"),
    [
        ({"names": ["scratch", "dent"]}, ["scratch", "dent"]),
        ({"names": {0: "scratch", 1: "dent"}}, ["scratch", "dent"]),
        ({"names": {"1": "dent", "0": "scratch"}}, ["scratch", "dent"]),
    ],
)
def test_parse_names_table(doc, names):
    assert yolo.parse_names(doc) == names


@pytest.mark.parametrize("doc", [{}, {"names": []}, {"names": {0: "a", 2: "c"}}, {"names": "scratch"}, ["names"]])
def test_parse_names_rejects(doc):
    with pytest.raises(FormatError, match="no usable 'names'"):
        yolo.parse_names(doc)


def test_data_yaml_orders_splits_and_numbers_names():
    doc = yolo.data_yaml("/d", ["val", "test", "train", "val"], ["scratch", "dent"])
    assert list(doc) == ["path", "train", "val", "test", "names"]
    assert doc["val"] == "images/val" and doc["names"] == {0: "scratch", 1: "dent"}
