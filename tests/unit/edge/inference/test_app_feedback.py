"""The feedback policy: band, no-detection, sample, and a sample fixed by seed and image."""

from __future__ import annotations

import pytest

from qiloop.edge.inference.feedback import FeedbackPolicy, sample_draw, select_feedback

BAND = FeedbackPolicy(uncertain_low=0.2, uncertain_high=0.5)


@pytest.mark.parametrize(
    ("scores", "policy", "reason"),
    [
        ([0.3], BAND, "uncertain"),
        ([0.2], BAND, "uncertain"),  # the band's low end is inside
        ([0.5], BAND, None),  # its high end is confident
        ([0.9, 0.3], BAND, None),  # the top score decides
        ([0.9, 0.3], BAND.model_copy(update={"uncertain_scores": "any"}), "uncertain"),  # ...or any box
        ([0.9, 0.6, 0.1], BAND.model_copy(update={"uncertain_scores": "any"}), None),
        ([], BAND.model_copy(update={"uncertain_scores": "any"}), None),
        ([0.1], BAND, None),
        ([], BAND, None),
        ([], BAND.model_copy(update={"no_detection": True}), "no_detection"),
        ([0.1], BAND.model_copy(update={"no_detection": True}), "no_detection"),  # below confidence 0.25
        ([0.3], BAND.model_copy(update={"no_detection": True}), "uncertain"),  # uncertain wins
        ([0.9], BAND.model_copy(update={"sample_rate": 1.0}), "sample"),
        ([0.9], BAND.model_copy(update={"sample_rate": 0.0}), None),
        ([0.3], BAND.model_copy(update={"enabled": False, "sample_rate": 1.0}), None),
    ],
)
def test_select_feedback(scores, policy, reason):
    assert select_feedback(scores, policy, confidence=0.25, key="img") == reason


def test_the_sample_is_fixed_by_seed_and_key_and_has_the_asked_rate():
    policy = FeedbackPolicy(sample_rate=0.1, seed=3)
    keys = [f"sha-{i}" for i in range(20_000)]
    picked = [k for k in keys if select_feedback([0.9], policy, confidence=0.25, key=k) == "sample"]
    assert 0.09 < len(picked) / len(keys) < 0.11
    again = [k for k in reversed(keys) if select_feedback([0.9], policy, confidence=0.25, key=k) == "sample"]
    assert sorted(again) == sorted(picked)  # any order, same images
    other = {k for k in keys if select_feedback([0.9], policy.model_copy(update={"seed": 4}), confidence=0.25, key=k)}
    assert len(other & set(picked)) < len(picked) / 2  # another seed, other images
    assert all(0 <= sample_draw(1, k) < 1 for k in keys[:100])


def test_the_band_must_be_ordered():
    with pytest.raises(ValueError, match="uncertain_low"):
        FeedbackPolicy(uncertain_low=0.6, uncertain_high=0.5)
