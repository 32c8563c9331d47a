"""Drift on a device's confidence stream (river's ADWIN) and defect-rate jumps per device or line."""

from __future__ import annotations

import numpy as np
import pytest

from qiloop.fleet.drift import ConfidenceDrift, DefectRateJump


def scores(rng, mean: float, n: int) -> list[float]:
    return np.clip(rng.normal(mean, 0.05, n), 0, 1).tolist()


def test_a_steady_stream_raises_nothing():
    rng = np.random.default_rng(1)
    drift = ConfidenceDrift(min_samples=200)
    assert [e for s in scores(rng, 0.85, 5000) if (e := drift.update("cam-1", [s]))] == []


def test_a_shift_in_confidence_is_found_soon_after_it_starts_and_on_that_device_only():
    rng = np.random.default_rng(2)
    drift = ConfidenceDrift(min_samples=200)
    for s in scores(rng, 0.85, 1000):
        assert drift.update("cam-1", [s]) is None
        assert drift.update("cam-2", [s]) is None
    events = []
    for i, s in enumerate(scores(rng, 0.6, 500)):
        if (event := drift.update("cam-1", [s])) is not None:
            events.append((i, event))
        assert drift.update("cam-2", [0.85]) is None
    assert events, "a drop from 0.85 to 0.60 went unnoticed"
    first_at, first = events[0]
    assert first_at < 200
    assert first.device_id == "cam-1"
    assert first.mean_before > first.mean_after


def test_changes_in_the_first_samples_do_not_count():
    drift = ConfidenceDrift(min_samples=1000)
    assert all(drift.update("cam-1", [0.9 if i < 300 else 0.2]) is None for i in range(600))


@pytest.mark.parametrize(
    ("before", "after", "jumps"),
    [(0.02, 0.30, True), (0.02, 0.05, False), (0.30, 0.45, False), (0.0, 0.11, True)],
)
def test_a_jump_needs_both_the_absolute_and_the_relative_rise(before, after, jumps):
    rng = np.random.default_rng(3)
    rates = DefectRateJump(window=100, baseline=500, min_increase=0.1, factor=2.0)
    changes = [rates.update("cam-1", bool(f)) for f in rng.random(600) < before]
    assert not any(changes)
    after_changes = [c for f in rng.random(300) < after if (c := rates.update("cam-1", bool(f)))]
    assert bool(after_changes) is jumps
    if jumps:
        assert after_changes[0].change == "start"
        assert after_changes[0].recent_rate >= after_changes[0].baseline_rate + 0.1


def test_a_jump_ends_when_the_rate_comes_back_and_the_baseline_stays_frozen_meanwhile():
    rates = DefectRateJump(window=50, baseline=200, min_increase=0.1, factor=2.0)
    pattern = [i % 20 == 0 for i in range(300)]  # 5 %
    assert not any(rates.update("line:a", f) for f in pattern)
    start = [c for i in range(200) if (c := rates.update("line:a", i % 2 == 0))]  # 50 %, for long
    assert [c.change for c in start] == ["start"]
    end = [c for f in pattern if (c := rates.update("line:a", f))]
    assert [c.change for c in end] == ["end"]
    assert end[0].baseline_rate == pytest.approx(0.05, abs=0.01)


def test_windows_must_make_sense():
    with pytest.raises(ValueError, match="baseline >= window"):
        DefectRateJump(window=100, baseline=50)
