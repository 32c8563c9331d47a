"""The simulated workforce's pure parts: noise settings, noisy boxes, quality against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box
from qiloop.sim.truth import SLOPPY, Noise, noisy_boxes, quality

TRUTH = (Box.from_xyxy(10, 10, 60, 30), Box.from_xyxy(100, 40, 110, 90), Box.from_xyxy(0, 0, 5, 5))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Noise()),
        ("miss=0.2", Noise(miss=0.2)),
        ("jitter=0.1, spurious=2", Noise(jitter=0.1, spurious=2.0)),
    ],
)
def test_noise_parses_key_value_pairs(text, expected):
    assert Noise.parse(text) == expected


@pytest.mark.parametrize("text", ["wobble=1", "miss=-0.1", "jitter", "miss=lots"])
def test_noise_refuses_unknown_keys_and_bad_values(text):
    with pytest.raises(ConfigurationError):
        Noise.parse(text)


def test_a_noiseless_worker_reproduces_the_truth():
    boxes = noisy_boxes(TRUTH, 128, 96, Noise(0, 0, 0), np.random.default_rng(0))
    assert [b.xyxy for b in boxes] == [b.xyxy for b in TRUTH]


def test_noisy_boxes_stay_inside_the_image_and_a_sloppy_worker_scores_worse():
    rng = np.random.default_rng(1)
    careful, sloppy = {}, {}
    truth = {f"{i:064x}": TRUTH for i in range(200)}
    for sha in truth:
        careful[sha] = noisy_boxes(TRUTH, 128, 96, Noise(), rng)
        sloppy[sha] = noisy_boxes(TRUTH, 128, 96, SLOPPY, rng)
        assert all(b.fits(128, 96) for b in careful[sha] + sloppy[sha])
    good, bad = quality(careful, truth), quality(sloppy, truth)
    assert good.f1 > 0.85 and bad.f1 < 0.5
    assert good.mean_iou > bad.mean_iou


def test_quality_counts_matches_misses_and_inventions():
    truth = {"a": TRUTH[:2], "b": ()}
    predicted = {"a": [TRUTH[0], Box.from_xyxy(70, 70, 80, 80)], "b": [Box.from_xyxy(1, 1, 9, 9)]}
    q = quality(predicted, truth)
    assert (q.images, q.true_positives, q.false_positives, q.false_negatives) == (2, 1, 2, 1)
    assert q.f1 == pytest.approx(2 / 5) and q.mean_iou == pytest.approx(1.0)
    assert quality({}, truth).f1 == 1.0
