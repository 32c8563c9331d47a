import numpy as np
import pytest

from qiloop.core.detections import Detections
from qiloop.core.errors import InvalidRecordError
from qiloop.core.geometry import batched_nms, clip, iou_matrix, nms
from qiloop.core.records import Box


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),  # touching corners
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),  # contained
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # degenerate: no division by zero
    ],
)
def test_iou_table(a, b, expected):
    assert iou_matrix([a], [b])[0, 0] == pytest.approx(expected)


def test_iou_matrix_shape_and_empty():
    m = iou_matrix(np.zeros((3, 4)), np.zeros((0, 4)))
    assert m.shape == (3, 0)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        iou_matrix([[1, 2, 3]], [[1, 2, 3, 4]])


def brute_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        if all(iou_matrix([boxes[i]], [boxes[k]])[0, 0] <= thr for k in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", range(5))
def test_nms_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (60, 2))
    wh = rng.uniform(5, 40, (60, 2))
    boxes = np.hstack([xy, xy + wh])
    scores = rng.uniform(0, 1, 60)
    assert nms(boxes, scores, 0.5).tolist() == brute_nms(boxes, scores, 0.5)


def test_nms_max_detections_and_classes():
    boxes = [[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]]
    scores = [0.9, 0.8, 0.7]
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert nms(boxes, scores, 0.5, max_detections=1).tolist() == [0]
    # Same overlap, different classes: nothing suppressed.
    assert sorted(batched_nms(boxes, scores, [0, 1, 0], 0.5).tolist()) == [0, 1, 2]


def test_clip():
    assert clip([[-5, -5, 500, 20]], 450, 300).tolist() == [[0, 0, 450, 20]]


def test_detections_round_trip_and_filters():
    boxes = [
        Box(class_id=0, left=1, top=2, width=3, height=4, score=0.9),
        Box(class_id=0, left=1.5, top=2, width=3, height=4, score=0.3),
    ]
    det = Detections.from_boxes(boxes)
    assert det.to_boxes() == boxes
    assert len(det.above(0.5)) == 1
    assert len(det.with_nms(0.5)) == 1
    assert len(Detections.empty()) == 0


@pytest.mark.parametrize(
    ("xyxy", "scores", "classes", "fragment"),
    [
        ([[0, 0, 1, 1]], [0.5, 0.6], None, "one score"),
        ([[0, 0, np.nan, 1]], [0.5], None, "NaN"),
        ([[5, 0, 1, 1]], [0.5], None, "x2 < x1"),
        ([[0, 0, 1, 1]], [1.2], None, r"\[0, 1\]"),
        ([[0, 0, 1, 1]], [0.2], [-1], "class ids"),
    ],
)
def test_detections_validate(xyxy, scores, classes, fragment):
    with pytest.raises(InvalidRecordError, match=fragment):
        Detections(np.array(xyxy, dtype=float), np.array(scores), None if classes is None else np.array(classes))


def test_batched_nms_keeps_classes_apart_with_negative_coordinates():
    boxes = [[-50, -50, -10, -10], [-49, -49, -10, -10], [-48, -50, -10, -10]]
    kept = batched_nms(boxes, [0.9, 0.8, 0.7], [0, 1, 2], 0.5)
    assert sorted(kept.tolist()) == [0, 1, 2]
