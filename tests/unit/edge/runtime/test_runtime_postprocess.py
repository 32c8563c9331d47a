"""Decoding synthetic YOLOv8 output tensors: thresholds, classes, NMS, back-mapping."""

from __future__ import annotations

import numpy as np
import pytest

from qiloop.core.errors import InvalidRecordError
from qiloop.edge.runtime.postprocess import decode, unletterbox, xywh_to_xyxy
from qiloop.edge.runtime.preprocess import letterbox_geometry


def output(anchors: list[tuple[float, float, float, float, list[float]]], n_classes: int = 1, pad_to: int = 8):
    """A ``(1, 4 + nc, N)`` tensor: the given anchors, then background anchors scoring 0.001."""
    rows = [(*box, *scores) for *box, scores in anchors]
    rows += [(5.0, 5.0, 2.0, 2.0, *([0.001] * n_classes))] * (pad_to - len(rows))
    return np.asarray(rows, dtype=np.float32).T[None]


def test_one_box_is_decoded_to_corners():
    d = decode(output([(50, 40, 20, 10, [0.9])]))
    assert d.xyxy.tolist() == [[40, 35, 60, 45]]
    assert d.scores.tolist() == pytest.approx([0.9]) and d.class_ids.tolist() == [0]


@pytest.mark.parametrize(
    ("confidence", "kept"),
    [(0.95, 0), (0.9, 1), (0.5, 2), (0.0005, 3)],  # the 6 identical background boxes collapse into 1
)
def test_confidence_threshold(confidence, kept):
    out = output([(50, 40, 20, 10, [0.9]), (150, 40, 20, 10, [0.6])])
    assert len(decode(out, confidence=confidence, iou=0.99)) == kept


def test_best_class_wins_per_anchor():
    d = decode(output([(50, 40, 20, 10, [0.3, 0.8, 0.1]), (150, 40, 20, 10, [0.7, 0.2, 0.1])], n_classes=3))
    assert d.class_ids.tolist() == [1, 0]
    assert d.scores.tolist() == pytest.approx([0.8, 0.7])


@pytest.mark.parametrize(
    ("classes", "iou", "kept"),
    [
        ([[0.9, 0.0], [0.8, 0.0]], 0.45, 1),  # same class, IoU 0.82: the lower one goes
        ([[0.9, 0.0], [0.0, 0.8]], 0.45, 2),  # different classes never suppress each other
        ([[0.9, 0.0], [0.8, 0.0]], 0.9, 2),  # threshold above their overlap
    ],
)
def test_nms_per_class(classes, iou, kept):
    out = output([(50, 40, 20, 20, classes[0]), (51, 41, 20, 20, classes[1])], n_classes=2)
    d = decode(out, iou=iou)
    assert len(d) == kept and d.scores[0] == pytest.approx(0.9)


def test_boxes_past_the_edge_of_different_classes_stay_apart():
    # Negative coordinates must not make the per-class offsets of batched NMS overlap.
    out = output([(-40, -40, 100, 100, [0.9, 0.0]), (-39, -39, 100, 100, [0.0, 0.8])], n_classes=2)
    assert len(decode(out)) == 2


def test_max_detections_keeps_the_best():
    anchors = [(20 + 40 * i, 20, 10, 10, [0.5 + 0.05 * i]) for i in range(6)]
    d = decode(output(anchors), max_detections=3)
    assert d.scores.tolist() == pytest.approx([0.75, 0.7, 0.65])


def test_back_mapping_through_the_letterbox():
    g = letterbox_geometry((300, 450), (320, 448))  # ratio ~0.9956 x 0.9967, pad top 10
    # A box at 100..200 x 50..150 of the original sits at ratio * x + pad in the input.
    x1, y1 = 100 * g.ratio[0] + g.pad[0], 50 * g.ratio[1] + g.pad[1]
    x2, y2 = 200 * g.ratio[0] + g.pad[0], 150 * g.ratio[1] + g.pad[1]
    out = output([((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, [0.9])])
    d = decode(out, ratio=g.ratio, pad=g.pad, image_size=(300, 450))
    assert d.xyxy[0] == pytest.approx([100, 50, 200, 150], abs=1e-3)


def test_back_mapped_boxes_are_clipped_to_the_image():
    boxes = unletterbox(np.array([[-5.0, 0.0, 460.0, 330.0]]), (1.0, 1.0), (0, 10), (300, 450))
    assert boxes.tolist() == [[0, 0, 450, 300]]


def test_xywh_to_xyxy_table():
    boxes = np.array([[10, 20, 4, 6], [0, 0, 0, 0], [5.5, 5.5, 1, 3]], dtype=float)
    assert xywh_to_xyxy(boxes).tolist() == [[8, 17, 12, 23], [0, 0, 0, 0], [5, 4, 6, 7]]


@pytest.mark.parametrize("shape", [(1, 4, 10), (2, 5, 10), (5,), (1, 1, 5, 10)])
def test_wrong_layout_is_refused(shape):
    with pytest.raises(InvalidRecordError, match="YOLOv8 output"):
        decode(np.zeros(shape, np.float32))


def test_nothing_above_threshold_is_empty():
    d = decode(output([]), image_size=(300, 450))
    assert len(d) == 0 and d.xyxy.shape == (0, 4)
