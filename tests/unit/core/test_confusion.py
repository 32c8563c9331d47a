import numpy as np
import pytest

from qiloop.core.confusion import confusion_matrix
from qiloop.core.detections import Detections


def dets(rows, scores=None):
    rows = np.asarray(rows, dtype=float).reshape(-1, 5)
    return Detections(rows[:, :4], np.ones(len(rows)) if scores is None else np.asarray(scores), rows[:, 4].astype(int))


def test_found_confused_missed_and_false_boxes_land_in_their_cells():
    truth = dets([[0, 0, 10, 10, 0], [20, 20, 30, 30, 1], [50, 50, 60, 60, 0]])
    predicted = dets([[0, 0, 10, 11, 0], [20, 20, 30, 30, 0], [80, 80, 90, 90, 1]])
    matrix = confusion_matrix([truth], [predicted], 2)
    expected = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 0]])  # rows: scratch, dent, background
    assert matrix.tolist() == expected.tolist()


def test_one_prediction_matches_one_truth_at_most_highest_iou_first():
    truth = dets([[0, 0, 10, 10, 0], [1, 0, 11, 10, 0]])
    predicted = dets([[1, 0, 11, 10, 0]])
    assert confusion_matrix([truth], [predicted], 1).tolist() == [[1, 1], [0, 0]]


def test_empty_images_and_mismatched_lengths():
    assert confusion_matrix([Detections.empty()], [Detections.empty()], 1).tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="1 ground truths for 2 predictions"):
        confusion_matrix([Detections.empty()], [Detections.empty(), Detections.empty()], 1)
