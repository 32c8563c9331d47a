"""qiloop's metrics against ultralytics' validator code on the same predictions.

Each case is a realistic prediction set (jittered boxes, missed and spurious
ones, duplicates, confused classes, empty images, spread scores). The same
arrays go through ultralytics' own ``DetectionValidator._process_batch``
(its matching) and ``DetMetrics.process`` (its AP, precision and recall), and
through :func:`qiloop.core.metrics.evaluate_detections`.
"""

from __future__ import annotations

import numpy as np
import pytest

from qiloop.core.detections import Detections
from qiloop.core.metrics import evaluate_detections

torch = pytest.importorskip("torch")
pytest.importorskip("ultralytics")
# Through the adapter: offline, integrations off.
from qiloop.training.ultralytics_adapter import ultralytics  # noqa: E402

ultralytics()

from ultralytics.models.yolo.detect import DetectionValidator  # noqa: E402
from ultralytics.utils.metrics import DetMetrics  # noqa: E402

QUALITY = {  # jitter (fraction of size), miss rate, spurious per image, duplicate rate, class confusion
    "good": (0.04, 0.05, 0.3, 0.05, 0.02),
    "fair": (0.10, 0.25, 1.5, 0.15, 0.08),
    "poor": (0.25, 0.50, 4.0, 0.30, 0.20),
}


def prediction_set(seed: int, quality: str, n_images: int = 40, n_classes: int = 3):
    """Ground truth and predictions for ``n_images`` 448x320 images."""
    jitter, miss, spurious, duplicate, confusion = QUALITY[quality]
    rng = np.random.default_rng(seed)
    truths, preds = [], []
    for _ in range(n_images):
        n = int(rng.choice([0, 1, 2, 3, 5], p=[0.15, 0.35, 0.25, 0.15, 0.1]))
        wh = rng.uniform(10, 120, (n, 2))
        xy = rng.uniform(0, 1, (n, 2)) * (np.array([448, 320]) - wh)
        gt = np.c_[xy, xy + wh]
        gt_cls = rng.integers(0, n_classes, n)
        found = rng.random(n) > miss
        boxes = gt[found] + rng.normal(0, 1, (found.sum(), 4)) * np.tile(wh[found], 2) * jitter
        scores = rng.beta(5, 2, found.sum())
        classes = gt_cls[found].copy()
        confused = rng.random(len(classes)) < confusion
        classes[confused] = rng.integers(0, n_classes, confused.sum())
        dup = rng.random(len(boxes)) < duplicate
        boxes = np.r_[boxes, boxes[dup] + rng.normal(0, 2, (dup.sum(), 4))]
        scores = np.r_[scores, scores[dup] * rng.uniform(0.5, 1, dup.sum())]
        classes = np.r_[classes, classes[dup]]
        m = rng.poisson(spurious)
        swh = rng.uniform(10, 120, (m, 2))
        sxy = rng.uniform(0, 1, (m, 2)) * (np.array([448, 320]) - swh)
        boxes = np.r_[boxes, np.c_[sxy, sxy + swh]]
        scores = np.r_[scores, rng.beta(2, 5, m)]
        classes = np.r_[classes, rng.integers(0, n_classes, m)]
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        truths.append(Detections(gt, np.ones(n), gt_cls))
        preds.append(Detections(boxes, scores.clip(0.001, 1), classes))
    return truths, preds


def ultralytics_metrics(truths, preds, n_classes: int = 3):
    """mAP50, mAP50-95, precision, recall as ultralytics' validator computes them; plus its tp matrix."""
    validator = DetectionValidator()
    metrics = DetMetrics(names={i: f"c{i}" for i in range(n_classes)})
    stats = []
    for truth, pred in zip(truths, preds, strict=True):
        order = np.argsort(-pred.scores, kind="stable")  # NMS output order
        as_tensor = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        batch_pred = {"bboxes": as_tensor(pred.xyxy[order]), "cls": as_tensor(pred.class_ids[order])}
        batch_true = {"bboxes": as_tensor(truth.xyxy), "cls": as_tensor(truth.class_ids)}
        tp = validator._process_batch(batch_pred, batch_true)["tp"]
        stat = {
            "tp": tp,
            "conf": pred.scores[order],
            "pred_cls": pred.class_ids[order].astype(float),
            "target_cls": truth.class_ids.astype(float),
            "target_img": np.unique(truth.class_ids),
            "im_name": "image.jpg",
        }
        metrics.update_stats(stat)
        stats.append(stat)
    metrics.process()
    box = metrics.box
    return (float(box.map50), float(box.map), float(box.mp), float(box.mr)), stats


CASES = [(seed, quality) for quality in QUALITY for seed in range(4)]


@pytest.mark.parametrize(("seed", "quality"), CASES, ids=[f"{q}-{s}" for s, q in CASES])
def test_metrics_agree_with_ultralytics(seed, quality):
    truths, preds = prediction_set(seed, quality)
    ours = evaluate_detections(truths, preds, confidence=0.25)
    theirs, stats = ultralytics_metrics(truths, preds)
    mine = (ours.map50, ours.map50_95, ours.best_precision, ours.best_recall)
    assert 0.02 < ours.map50 < 0.999, "the set must be neither trivial nor hopeless"
    assert mine == pytest.approx(theirs, abs=0.01), f"ours {mine} vs ultralytics {theirs}"
    # At the operating point the counts are exact: the same matches above 0.25.
    tp = sum(int(s["tp"][s["conf"] >= 0.25, 0].sum()) for s in stats)
    kept = sum(int((s["conf"] >= 0.25).sum()) for s in stats)
    assert (ours.tp, ours.tp + ours.fp) == (tp, kept)


def test_the_table(capsys):
    """Prints the comparison table (mAP50, mAP50-95, P, R: ours / ultralytics)."""
    rows = []
    for seed, quality in CASES:
        truths, preds = prediction_set(seed, quality)
        ours = evaluate_detections(truths, preds)
        theirs, _ = ultralytics_metrics(truths, preds)
        mine = (ours.map50, ours.map50_95, ours.best_precision, ours.best_recall)
        rows.append((quality, seed, mine, theirs, max(abs(a - b) for a, b in zip(mine, theirs, strict=True))))
    with capsys.disabled():
        print("\nquality seed | mAP50 ours/ultra | mAP50-95 ours/ultra | P ours/ultra | R ours/ultra | max diff")
        for quality, seed, m, t, d in rows:
            cells = " | ".join(f"{a:.4f}/{b:.4f}" for a, b in zip(m, t, strict=True))
            print(f"{quality:7} {seed:4} | {cells} | {d:.4f}")
    assert max(r[-1] for r in rows) <= 0.01
