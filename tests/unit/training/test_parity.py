"""compare: matched boxes must agree in IoU and score, both ways, with a band at the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from qiloop.core.detections import Detections
from qiloop.training.parity import compare, compare_levels


def dets(*rows) -> Detections:
    """Rows of ``(x1, y1, x2, y2, score)`` or ``(..., score, class)``."""
    if not rows:
        return Detections.empty()
    arr = np.array([r if len(r) == 6 else (*r, 0) for r in rows], dtype=float)
    return Detections(arr[:, :4], arr[:, 4], arr[:, 5].astype(int))


BOX = (100, 100, 200, 180, 0.80)


@pytest.mark.parametrize(
    ("candidate", "ok"),
    [
        (dets(BOX), True),
        (dets((100.5, 100, 200.5, 180, 0.81)), True),  # IoU 0.99, score +0.01
        (dets((104, 100, 204, 180, 0.80)), False),  # IoU 0.92
        (dets((100, 100, 200, 180, 0.85)), False),  # score +0.05
        (dets((100, 100, 200, 180, 0.80, 1)), False),  # another class
        (dets(), False),  # nothing found
        (dets(BOX, (300, 10, 350, 60, 0.6)), False),  # an extra box the reference lacks
        (dets(BOX, (300, 10, 350, 60, 0.2)), True),  # extra, but below the compared confidence
    ],
)
def test_compare_one_image(candidate, ok):
    report = compare([dets(BOX)], [candidate], conf=0.25)
    assert report.ok is ok
    assert report.compared >= 1
    if not ok:
        assert report.failures and "image 0" in report.failures[0]


def test_scores_either_side_of_the_threshold_are_not_failures():
    reference, candidate = dets((10, 10, 50, 50, 0.255)), dets((10, 10, 50, 50, 0.245))
    assert compare([reference], [candidate], conf=0.25).ok


def test_report_figures():
    report = compare([dets(BOX), dets()], [dets((100.5, 100, 200.5, 180, 0.81)), dets()], conf=0.25)
    assert report.images == 2 and report.compared == 2  # one box, checked both ways
    assert 0.98 < report.worst_iou < 1 and report.worst_score_diff == pytest.approx(0.01)
    assert "passed" in report.summary()


def test_levels_step_down_until_something_is_compared():
    weak = dets((10, 10, 50, 50, 0.03))
    report = compare_levels([weak], [weak])
    assert report.ok and report.conf == 0.01 and report.compared == 2
    assert compare_levels([dets()], [dets()]).compared == 0
    broken = compare_levels([dets(BOX)], [dets((150, 150, 250, 250, 0.8))])
    assert not broken.ok and broken.conf == 0.25


def test_lengths_must_match():
    with pytest.raises(ValueError):
        compare([dets()], [], conf=0.25)


def test_coinciding_boxes_are_matched_by_score():
    """Boxes clipped to the image border can coincide; each must find its own twin."""
    full_low, full_high = (0, 0, 450, 300, 0.30), (0, 0, 450, 300, 0.90)
    assert compare([dets(full_high, full_low)], [dets(full_low, full_high)], conf=0.25).ok


def test_raw_differences_and_their_verdict():
    from qiloop.training import parity

    a = np.zeros((1, 5, 10), dtype=np.float32)
    b = a.copy()
    b[0, 4, 3] = 0.05  # one score
    b[0, 1, 7] = 0.5  # one box value, in input pixels
    score, box = parity.raw_differences([a], [b])
    assert score == pytest.approx(0.05) and box == pytest.approx(0.5)
    empty = parity.ParityReport(images=2, conf=0.01, compared=0, worst_iou=1.0, worst_score_diff=0.0)
    failed = parity.with_raw(empty, score, box, score_tol=0.02, box_tol=1.0)
    assert not failed.ok and "raw scores differ" in failed.failures[0]
    assert parity.with_raw(empty, 0.001, 0.2, score_tol=0.02, box_tol=1.0).ok
    with pytest.raises(ValueError, match="shapes differ"):
        parity.raw_differences([a], [np.zeros((1, 6, 10), dtype=np.float32)])
