"""Evaluation plumbing, error pictures and plots, with predictors whose answers are known."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qiloop.core.detections import Detections
from qiloop.core.errors import ImageRejectedError
from qiloop.labelstore.formats import labels_csv
from qiloop.synth import generate_dataset
from qiloop.training.error_analysis import TRUTH, draw_comparison, save_error_pictures, worst, write_report
from qiloop.training.evaluate import evaluate
from qiloop.training.evaluate_csv import read_local
from qiloop.training.plots import plot_precision_recall


@pytest.fixture(scope="module")
def drafts(tmp_path_factory):
    """8 synthetic 450x300 images with scratches, as drafts whose refs are local paths."""
    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, 8, seed=3)
    parsed = labels_csv.read(root / "labels.csv")
    return [d.with_ref(labels_csv.map_prefix(d.image_ref, labels_csv.REFERENCE_PREFIX, root)) for d in parsed.drafts]


class Oracle:
    """Knows each image's labels by its pixels; ``drop`` misses boxes, ``extra`` adds false ones."""

    def __init__(self, drafts, *, drop_every: int = 0, extra: int = 0):
        self.truth = {}
        for d in drafts:
            rgb = np.asarray(Image.open(d.image_ref).convert("RGB"))
            self.truth[hashlib.sha256(rgb.tobytes()).hexdigest()] = d.annotations
        self.drop_every, self.extra = drop_every, extra

    def __call__(self, rgb: np.ndarray) -> Detections:
        boxes = list(self.truth[hashlib.sha256(rgb.tobytes()).hexdigest()])
        if self.drop_every:
            boxes = [b for i, b in enumerate(boxes) if i % self.drop_every]
        d = Detections.from_boxes(boxes, default_score=0.9)
        false = np.array([[10 + 30 * i, 10, 30 + 30 * i, 30] for i in range(self.extra)], dtype=float)
        return Detections(
            np.r_[d.xyxy, false.reshape(-1, 4)],
            np.r_[d.scores, np.full(self.extra, 0.6)],
            np.r_[d.class_ids, [0] * self.extra],
        )


def test_perfect_predictor_scores_one(drafts):
    result = evaluate(Oracle(drafts), drafts, read_local, confidence=0.25)
    assert result.metrics.map50 == pytest.approx(1.0) and result.metrics.map50_95 == pytest.approx(1.0)
    assert result.failures == () and len(result.items) == len(drafts) == len(result.predictions)
    assert result.summary()["mAP50"] == pytest.approx(1.0)


def test_misses_and_false_alarms_show_in_the_counts(drafts):
    result = evaluate(Oracle(drafts, drop_every=2, extra=1), drafts, read_local, confidence=0.25)
    boxes = sum(len(d.annotations) for d in drafts)
    missed = sum(len(d.annotations[::2]) for d in drafts)
    assert (result.metrics.fn, result.metrics.fp) == (missed, len(drafts))
    assert result.metrics.tp == boxes - missed
    assert result.metrics.recall == pytest.approx((boxes - missed) / boxes)


def test_bad_items_are_reported_and_the_rest_evaluated(drafts, tmp_path):
    missing = drafts[0].with_ref(str(tmp_path / "gone.jpg"))
    (tmp_path / "junk.jpg").write_bytes(b"not a jpeg")
    junk = drafts[1].with_ref(str(tmp_path / "junk.jpg"))
    wrong_size = dataclasses.replace(drafts[2], image_width=640, image_height=480)
    result = evaluate(Oracle(drafts), [missing, junk, wrong_size, *drafts[3:]], read_local)
    reasons = {Path(f.image).name: f.reason for f in result.failures}
    assert set(reasons) == {"gone.jpg", "junk.jpg", Path(drafts[2].image_ref).name}
    assert "not a readable image" in reasons["junk.jpg"]
    assert "label says 640x480" in reasons[Path(drafts[2].image_ref).name]
    assert len(result.items) == len(drafts) - 3 and result.metrics.map50 == pytest.approx(1.0)
    assert result.summary()["failed"] == 3


def test_a_failing_model_is_recorded_per_image(drafts):
    calls = []

    def flaky(rgb):
        calls.append(1)
        if len(calls) == 2:
            raise ImageRejectedError("<array>", "the model refused it")
        return Detections.empty()

    result = evaluate(flaky, drafts, read_local)
    assert len(result.failures) == 1 and "refused" in result.failures[0].reason
    assert len(result.items) == len(drafts) - 1 and result.metrics.recall == 0


def test_json_summary(drafts):
    result = evaluate(Oracle(drafts, extra=2), drafts, read_local)
    data = json.loads(json.dumps(result.to_json()))
    assert {"mAP50", "mAP50-95", "precision", "recall", "f1", "best_confidence", "failures"} <= set(data)
    assert len(data["per_image"]) == len(drafts) and data["per_image"][0]["fp"] == 2
    assert "per_image" not in result.to_json(per_image=False)


@pytest.mark.parametrize(
    ("counts", "n", "expected"), [([0, 3, 1, 3], 2, [1, 3]), ([0, 0], 5, []), ([2, 1, 5], 5, [2, 0, 1])]
)
def test_worst_table(counts, n, expected):
    assert worst(counts, n) == expected


def is_png(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        return image.size


def test_error_pictures_show_truth_and_predictions(drafts, tmp_path):
    result = evaluate(Oracle(drafts, drop_every=2, extra=1), drafts, read_local)
    paths = save_error_pictures(result, tmp_path / "errors", read_local, n=3, class_names=["scratch"])
    names = sorted(p.name for p in paths)
    assert [n[:9] for n in names] == [
        *("false-01-", "false-02-", "false-03-"),
        *("found-01-", "found-02-", "found-03-"),
        *("missed-01", "missed-02", "missed-03"),
    ]
    for path in paths:
        assert is_png(path) == (450, 314)  # the image plus a caption band
        pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
        assert (pixels == TRUTH).all(1).any(), "ground truth drawn in green"
        assert ((pixels[:, 0] > 200) & (pixels[:, 1] < 30) & (pixels[:, 2] < 30)).any(), "predictions in red"


def test_draw_comparison_without_caption():
    rgb = np.zeros((40, 60, 3), np.uint8)
    truth = Detections(np.array([[5.0, 5, 20, 20]]), np.ones(1))
    picture = draw_comparison(rgb, truth, Detections.empty())
    assert picture.size == (60, 40) and picture.getpixel((5, 10)) == TRUTH


def test_precision_recall_plot_is_a_png(drafts, tmp_path):
    result = evaluate(Oracle(drafts, drop_every=3, extra=1), drafts, read_local)
    path = plot_precision_recall(result.metrics, tmp_path / "pr.png", class_names=["scratch"], title="test")
    assert is_png(path) == (1000, 420)


def test_report_writes_everything(drafts, tmp_path):
    result = evaluate(Oracle(drafts, drop_every=2), drafts, read_local)
    report = write_report(result, tmp_path / "report", read_local, n=2)
    assert json.loads(report["summary"].read_text())["fn"] == result.metrics.fn
    # no false alarms: only missed and found examples
    assert is_png(report["plot"]) and sorted(p.name[:5] for p in report["pictures"]) == ["found"] * 2 + ["misse"] * 2
    confusion = json.loads((tmp_path / "report" / "confusion.json").read_text())
    (found, missed), (false, _) = confusion["matrix"]
    assert (found, missed, false) == (result.metrics.tp, result.metrics.fn, result.metrics.fp)
    assert is_png(report["confusion"])


def test_example_pictures_are_named_by_the_image_file_name(drafts, tmp_path):
    result = evaluate(Oracle(drafts, drop_every=2), drafts, read_local)
    paths = save_error_pictures(result, tmp_path / "named", read_local, n=1, name_of=lambda item: "tag 7 (line 2).jpg")
    assert sorted(p.name for p in paths) == ["found-01-tag_7_line_2_.jpg.png", "missed-01-tag_7_line_2_.jpg.png"]
