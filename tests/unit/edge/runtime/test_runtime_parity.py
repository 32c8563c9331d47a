"""Parity with ultralytics' own predictor on the same ONNX file: same boxes and scores.

The package is exported at the metal-tag input size (320 x 448). Images of
several shapes (the 450x300 crops, larger, smaller, portrait) go through
``YOLO(model.onnx).predict`` and through :class:`OnnxDetector`; every box must
have a partner with IoU >= 0.99 and a score within 0.01.
"""

from __future__ import annotations

import numpy as np
import pytest

from qiloop.core.geometry import iou_matrix
from qiloop.edge.runtime import OnnxDetector

pytestmark = pytest.mark.slow

SHAPES = [(300, 450), (300, 450), (480, 640), (217, 333), (1000, 300), (320, 448)]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    pytest.importorskip("ultralytics", reason="the reference predictor is ultralytics'")
    from onnx_models import build_package

    return build_package(tmp_path_factory.mktemp("parity") / "package", (320, 448), seed=1)


def same_detections(ours, boxes: np.ndarray, scores: np.ndarray) -> None:
    """One-to-one pairing (closest corners and score), then IoU >= 0.99 and scores within 0.01."""
    from scipy.optimize import linear_sum_assignment

    assert len(ours) == len(boxes), f"{len(ours)} boxes here, {len(boxes)} from ultralytics"
    if not len(boxes):
        return
    corners = np.abs(ours.xyxy[:, None, :] - boxes[None, :, :]).max(2)
    rows, cols = linear_sum_assignment(corners + 100 * np.abs(ours.scores[:, None] - scores[None, :]))
    iou = iou_matrix(ours.xyxy, boxes)[rows, cols]
    side = np.minimum(ours.xyxy[rows, 2] - ours.xyxy[rows, 0], ours.xyxy[rows, 3] - ours.xyxy[rows, 1])
    # Boxes squashed flat by clipping (wholly in the padding) have no IoU: compare corners instead.
    flat = side < 0.5
    assert (iou[~flat] >= 0.99).all(), f"IoU down to {iou[~flat].min():.4f}"
    assert corners[rows[flat], cols[flat]].max(initial=0) <= 0.5
    assert np.abs(ours.scores[rows] - scores[cols]).max() <= 0.01


@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_same_boxes_and_scores_as_ultralytics(package, index):
    from ultralytics import YOLO

    from onnx_models import random_photo

    rgb = random_photo(index, SHAPES[index])
    detector = OnnxDetector.from_package(package, threads=1)
    ours = detector.detect(rgb, confidence=0.2, iou=0.45)
    reference = YOLO(str(package / "model.onnx"), task="detect").predict(
        np.ascontiguousarray(rgb[..., ::-1]), imgsz=(320, 448), conf=0.2, iou=0.45, device="cpu", verbose=False
    )[0]
    assert len(ours) > 0, "the seeded model should find something to compare"
    same_detections(ours, reference.boxes.xyxy.numpy(), reference.boxes.conf.numpy())
