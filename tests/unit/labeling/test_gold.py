"""Gold checks: F1 against gold boxes, reliability with a prior, flags."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box
from qiloop.labeling.gold import ReliabilityPrior, reliability, score_against_gold, worker_accuracy

G1 = Box.from_xyxy(10, 10, 60, 20)
G2 = Box.from_xyxy(100, 40, 110, 90)
NEAR_G1 = Box.from_xyxy(12, 10, 62, 21)
ELSEWHERE = Box.from_xyxy(300, 300, 320, 310)


@pytest.mark.parametrize(
    ("worker", "gold", "counts", "f1"),
    [
        ([G1, G2], [G1, G2], (2, 0, 0), 1.0),
        ([NEAR_G1, G2], [G1, G2], (2, 0, 0), 1.0),  # small jitter still matches at IoU 0.5
        ([G1], [G1, G2], (1, 0, 1), 2 / 3),  # missed one
        ([G1, G2, ELSEWHERE], [G1, G2], (2, 1, 0), 0.8),  # invented one
        ([], [], (0, 0, 0), 1.0),  # an empty gold image left empty
        ([ELSEWHERE], [], (0, 1, 0), 0.0),
        ([], [G1], (0, 0, 1), 0.0),
        ([Box.from_xyxy(10, 10, 60, 20, class_id=1)], [G1], (0, 1, 1), 0.0),  # wrong class
    ],
)
def test_score_against_gold_table(worker, gold, counts, f1):
    score = score_against_gold(worker, gold)
    assert (score.true_positives, score.false_positives, score.false_negatives) == counts
    assert score.f1 == pytest.approx(f1)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], 0.7),  # no history: the prior
        ([1.0], (2.1 + 1.0) / 4),  # one perfect item moves it a little
        ([0.0], 2.1 / 4),  # one bad item moves it a little
        ([1.0] * 97, (2.1 + 97) / 100),  # a long record outweighs the prior
    ],
)
def test_reliability_shrinks_towards_the_prior(scores, expected):
    assert reliability(scores) == pytest.approx(expected)


def test_prior_of_zero_strength_is_the_plain_mean_and_bad_priors_are_refused():
    assert reliability([0.5, 1.0], ReliabilityPrior(strength=0)) == pytest.approx(0.75)
    assert reliability([], ReliabilityPrior(mean=0.4, strength=0)) == pytest.approx(0.4)
    with pytest.raises(ConfigurationError):
        ReliabilityPrior(mean=1.5)


def test_flags_need_enough_gold_items_and_a_low_reliability():
    scores = [("ann", 1.0)] * 5 + [("sloppy", 0.2)] * 2 + [("bad", 0.1)] * 6 + [("ok", 0.65)] * 10
    report = worker_accuracy(scores, workers=["new"], threshold=0.6, min_items=3)
    assert not report["ann"].flagged and report["ann"].mean_f1 == pytest.approx(1.0)
    assert not report["sloppy"].flagged  # only 2 gold items so far
    assert report["bad"].flagged and report["bad"].reliability < 0.6
    assert not report["ok"].flagged
    assert report["new"].gold_items == 0 and report["new"].mean_f1 is None
    assert report["new"].reliability == pytest.approx(0.7) and not report["new"].flagged


def test_window_follows_a_worker_who_changes():
    scores = [("w", 0.0)] * 50 + [("w", 1.0)] * 10
    recent = worker_accuracy(scores, window=10)["w"]
    whole = worker_accuracy(scores, window=None)["w"]
    assert recent.gold_items == whole.gold_items == 60
    assert recent.reliability > 0.9 > 0.3 > whole.reliability


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=30), st.floats(0, 1), st.floats(0, 20))
@example(scores=[], mean=0.5, strength=5e-324)  # a prior strength so small that mean * strength underflows
def test_reliability_lies_between_prior_and_mean(scores, mean, strength):
    r = reliability(scores, ReliabilityPrior(mean=mean, strength=strength))
    values = [mean, *scores] if strength > 0 or not scores else scores
    assert min(values) - 1e-9 <= r <= max(values) + 1e-9
