"""The F1-optimal operating point against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from qiloop.core.detections import Detections, passes
from qiloop.core.metrics import evaluate_detections
from qiloop.core.operating_point import f1_optimal
from qiloop.core.records import Box

# Four well-separated places; a prediction "on" a place hits the true box there.
PLACES = [(0, 0), (100, 0), (0, 100), (100, 100), (200, 200), (300, 300)]


def truth(*places: int, class_id: int = 0) -> list[Box]:
    return [Box(class_id=class_id, left=PLACES[p][0], top=PLACES[p][1], width=40, height=40) for p in places]


def preds(*rows: tuple[int, float] | tuple[int, float, int]) -> Detections:
    """(place, score[, class]) per prediction."""
    if not rows:
        return Detections.empty()
    xyxy = [(PLACES[r[0]][0], PLACES[r[0]][1], PLACES[r[0]][0] + 40, PLACES[r[0]][1] + 40) for r in rows]
    return Detections(
        np.array(xyxy, float), np.array([r[1] for r in rows]), np.array([r[2] if len(r) > 2 else 0 for r in rows])
    )


@pytest.mark.parametrize(
    ("truths", "predictions", "confidence", "precision", "recall"),
    [
        # hits 0.9 and 0.4, a miss at 0.6: keep 1 → F1 2/3, keep 2 → 1/2, keep 3 → 2·2/(3+2) = 0.8; cut below 0.4
        (truth(0, 1), preds((0, 0.9), (4, 0.6), (1, 0.4)), 0.2, 2 / 3, 1.0),
        # hits 0.9, 0.8, 0.3, misses 0.5 and 0.45, 3 true: keep 2 → 4/5 = 0.8 beats keep 5 → 6/8; cut at 0.65
        (truth(0, 1, 2), preds((0, 0.9), (1, 0.8), (4, 0.5), (5, 0.45), (2, 0.3)), 0.65, 1.0, 2 / 3),
        # a tie: keep 1 → 2/3, keep 4 → 2·2/(4+2) = 2/3; the higher threshold wins
        (truth(0, 1), preds((0, 0.9), (4, 0.6), (5, 0.5), (1, 0.4)), 0.75, 1.0, 0.5),
        # equal scores cannot be split: both are kept, the cut lies below them
        (truth(0), preds((0, 0.7), (4, 0.7)), 0.35, 0.5, 1.0),
    ],
)
def test_hand_computed_cases(truths, predictions, confidence, precision, recall):
    point = f1_optimal([truths], [predictions])[0]
    assert point.confidence == pytest.approx(confidence)
    assert point.precision == pytest.approx(precision) and point.recall == pytest.approx(recall)
    assert point.f1 == pytest.approx(2 * precision * recall / (precision + recall))


def test_classes_are_chosen_apart_and_over_all_images():
    truths = [truth(0) + truth(1, class_id=1), truth(2, class_id=1)]
    predictions = [
        preds((0, 0.8, 0), (1, 0.3, 1), (4, 0.9, 1)),  # class 1: a strong miss, a weak hit
        preds((2, 0.35, 1)),
    ]
    points = f1_optimal(truths, predictions, num_classes=3)
    assert points[0].confidence == pytest.approx(0.4) and points[0].recall == 1.0
    # class 1 ranked: 0.9 miss, 0.35 hit, 0.3 hit of 2 true → keep 3: 2·2/(3+2) = 0.8
    assert points[1].confidence == pytest.approx(0.15) and points[1].tp == 2 and points[1].fp == 1
    # class 2 exists in the model but nowhere in the images: the default, recall 0
    assert points[2].confidence == 0.25 and points[2].recall == 0.0 and points[2].ground_truth == 0


def test_a_class_never_found_keeps_the_default_with_recall_zero():
    point = f1_optimal([truth(0, 1)], [preds((4, 0.9), (5, 0.2))], default=0.3)[0]
    assert point.confidence == 0.3 and point.recall == 0.0 and point.tp == 0 and point.fn == 2 and point.fp == 1


def test_the_threshold_has_a_floor():
    point = f1_optimal([truth(0)], [preds((0, 0.004))], min_confidence=0.01)[0]
    assert point.confidence == 0.01 and point.recall == 0.0  # the only hit scores below the floor


def test_per_class_confidence_in_filters_and_metrics():
    scores, classes = np.array([0.5, 0.5, 0.2]), np.array([0, 1, 1])
    assert passes(scores, classes, {0: 0.6, 1: 0.1}).tolist() == [False, True, True]
    assert passes(scores, classes, {0: 0.4}).tolist() == [True, True, False]  # a missing class: the lowest
    assert passes(scores, classes, 0.3).tolist() == [True, True, False]
    truths = [truth(0) + truth(1, class_id=1)]
    predictions = [preds((0, 0.5, 0), (1, 0.5, 1))]
    split = evaluate_detections(truths, predictions, confidence={0: 0.6, 1: 0.1})
    assert split.classes[0].recall == 0.0 and split.classes[1].recall == 1.0
    assert split.confidence == 0.1 and split.class_confidence == {0: 0.6, 1: 0.1}
