"""Detection metrics on hand-built cases whose answers are known."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from qiloop.core.detections import Detections
from qiloop.core.metrics import average_precision, evaluate_detections, match
from qiloop.core.records import Box, LabelRecord


def dets(boxes, scores=None, classes=None) -> Detections:
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    scores = np.ones(len(boxes)) if scores is None else scores
    return Detections(boxes, scores, classes)


A, B, C = [0, 0, 10, 10], [20, 20, 40, 40], [50, 0, 70, 30]
FAR = [200, 200, 220, 220]


def test_perfect_predictions_score_one():
    truth = [dets([A, B]), dets([C])]
    m = evaluate_detections(truth, [dets([A, B], [0.9, 0.8]), dets([C], [0.7])])
    assert (m.map50, m.map50_95, m.precision, m.recall, m.f1) == pytest.approx((1, 1, 1, 1, 1))
    assert (m.tp, m.fp, m.fn) == (3, 0, 0)
    assert m.best_f1 == pytest.approx(1.0)


def test_all_wrong_scores_zero():
    m = evaluate_detections([dets([A, B])], [dets([FAR, C], [0.9, 0.8])])
    assert (m.map50, m.map50_95, m.precision, m.recall, m.f1) == (0, 0, 0, 0, 0)
    assert (m.tp, m.fp, m.fn) == (0, 2, 2)


def test_one_of_two_found():
    m = evaluate_detections([dets([A, B])], [dets([A], [0.9])])
    assert (m.precision, m.recall) == (1.0, 0.5)
    assert m.f1 == pytest.approx(2 / 3)
    # COCO 101-point: precision 1 at the 51 recall points 0.00 ... 0.50, 0 at the other 50.
    assert m.map50 == pytest.approx(51 / 101)
    assert (m.tp, m.fp, m.fn) == (1, 0, 1)


def test_duplicates_count_as_false_positives():
    m = evaluate_detections([dets([A])], [dets([A, [0, 0, 10, 9]], [0.9, 0.8])])
    assert (m.tp, m.fp, m.fn) == (1, 1, 0)
    assert m.precision == 0.5
    assert m.map50 == pytest.approx(1.0)  # the duplicate ranks below the hit


@pytest.mark.parametrize(
    ("scores", "expected_ap"),
    [([0.9, 0.3], 1.0), ([0.3, 0.9], 0.5)],  # (hit, miss): the hit ranked first or second
)
def test_confidence_ordering_sets_ap(scores, expected_ap):
    m = evaluate_detections([dets([A])], [dets([A, FAR], scores)])
    assert m.map50 == pytest.approx(expected_ap, abs=1e-9)


def test_operating_confidence_filters_counts_not_ap():
    truth, pred = [dets([A, B])], [dets([A, B], [0.9, 0.1])]
    m = evaluate_detections(truth, pred, confidence=0.25)
    assert (m.tp, m.fp, m.fn, m.recall) == (1, 0, 1, 0.5)
    assert m.map50 == pytest.approx(1.0)
    assert evaluate_detections(truth, pred, confidence=0.05).recall == 1.0


def test_f1_optimal_threshold_lies_between_hits_and_false_alarms():
    truth = [dets([A]), dets([B]), dets([C]), dets([]), dets([]), dets([])]
    pred = [dets([A], [0.9]), dets([B], [0.8]), dets([C], [0.7])] + [dets([FAR], [s]) for s in (0.4, 0.35, 0.3)]
    m = evaluate_detections(truth, pred, confidence=0.25)
    assert m.precision == 0.5  # at 0.25 the three false alarms count
    # Curves are interpolated between scores and smoothed (as ultralytics reports them),
    # so the optimum sits inside the clean band and its F1 is near, not exactly, 1.
    assert 0.4 < m.best_confidence <= 0.7
    assert m.best_f1 > 0.95 and m.best_recall == pytest.approx(1.0)
    at_best = evaluate_detections(truth, pred, confidence=m.best_confidence)
    assert (at_best.precision, at_best.recall, at_best.tp, at_best.fp) == (1.0, 1.0, 3, 0)


def test_iou_thresholds_shape_map50_95():
    # IoU 0.62: a hit at 0.50, 0.55 and 0.60 only.
    m = evaluate_detections([dets([A])], [dets([[0, 0, 10, 6.2]], [0.9])])
    assert m.map50 == pytest.approx(1.0)
    assert m.map50_95 == pytest.approx(0.3)


def test_wrong_class_is_a_false_positive_and_a_miss():
    m = evaluate_detections([dets([A], classes=[0])], [dets([A], [0.9], classes=[1])])
    assert (m.tp, m.fp, m.fn) == (0, 1, 1)
    assert set(m.classes) == {0, 1}
    assert m.classes[1].ground_truth == 0 and m.classes[1].fp == 1


def test_map_is_the_mean_over_ground_truth_classes():
    truth = [dets([A, B], classes=[0, 1])]
    m = evaluate_detections(truth, [dets([A, C], [0.9, 0.8], classes=[0, 2])])
    assert m.classes[0].ap50 == pytest.approx(1.0) and m.classes[1].ap50 == 0.0
    assert m.map50 == pytest.approx(0.5)  # class 2 has no ground truth: not in the mean
    assert m.fp == 1 and m.classes[2].fp == 1  # but its box is a false alarm


@pytest.mark.parametrize(
    ("truth", "pred", "counts"),
    [
        ([], [], (0, 0, 0)),
        ([dets([])], [dets([])], (0, 0, 0)),
        ([dets([])], [dets([A], [0.9])], (0, 1, 0)),
        ([dets([A])], [dets([])], (0, 0, 1)),
    ],
    ids=["no images", "nothing to find", "no truth", "no predictions"],
)
def test_empty_cases_report_zero(truth, pred, counts):
    m = evaluate_detections(truth, pred)
    assert (m.tp, m.fp, m.fn) == counts
    assert (m.map50, m.map50_95, m.precision, m.recall, m.best_f1) == (0, 0, 0, 0, 0)


def test_image_without_predictions_among_found_ones():
    m = evaluate_detections([dets([A]), dets([B])], [dets([A], [0.9]), dets([])])
    assert m.recall == 0.5 and m.precision == 1.0
    assert [(c.tp, c.fp, c.fn) for c in m.images] == [(1, 0, 0), (0, 0, 1)]


def test_greedy_match_highest_score_claims_best_overlap():
    truth = dets([A, [0, 0, 10, 12]])
    pred = dets([[0, 0, 10, 11.5], [0, 0, 10, 10.5]], [0.6, 0.9])
    tp = match(truth, pred, np.array([0.5, 0.95]))
    # The 0.9 box claims A (IoU 0.95); the 0.6 box takes the other (IoU 0.958).
    assert tp.tolist() == [[True, True], [True, True]]
    one = match(dets([A]), pred, np.array([0.5]))
    assert one.tolist() == [[False], [True]]


def test_accepts_label_records_and_box_lists():
    box = Box(class_id=0, left=0, top=0, width=10, height=10)
    record = LabelRecord(
        image_uri="a.jpg",
        image_sha256="0" * 64,
        image_width=64,
        image_height=64,
        image_depth=3,
        annotations=(box,),
        event_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    m = evaluate_detections([record, [box]], [dets([A], [0.9]), dets([A], [0.8])])
    assert m.map50 == pytest.approx(1.0) and m.tp == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"iou_thresholds": []}, "IoU thresholds"), ({"iou_thresholds": [0.5, 1.5]}, "IoU thresholds")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate_detections([dets([A])], [dets([A])], **kwargs)
    with pytest.raises(ValueError, match="prediction sets"):
        evaluate_detections([dets([A])], [])


def test_summary_is_json_and_curves_have_one_row_per_class():
    m = evaluate_detections([dets([A, B], classes=[0, 1])], [dets([A, B], [0.9, 0.2], classes=[0, 1])])
    data = json.loads(json.dumps(m.to_dict()))
    assert data["mAP50"] == pytest.approx(1.0) and set(data["classes"]) == {"0", "1"}
    assert m.pr_precision.shape == (2, 101) and m.f1_curve.shape == (2, 1000)
    assert m.curve_classes.tolist() == [0, 1]


def test_average_precision_of_a_perfect_curve():
    ap, sampled = average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0]))
    assert ap == pytest.approx(1.0) and sampled.min() == 1.0
