"""Chart buckets for the Fleet pages' windows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qiloop.console.fleet_view import MAX_POINTS, bucket_for


@pytest.mark.parametrize(
    ("window", "bucket"),
    [(timedelta(minutes=30), timedelta(minutes=1)), (timedelta(hours=1), timedelta(minutes=1)),
     (timedelta(hours=6), timedelta(minutes=2)), (timedelta(days=7), timedelta(minutes=42))],
)  # fmt: skip
def test_bucket_draws_the_window_in_at_most_max_points(window, bucket):
    assert bucket_for(window) == bucket
    assert window / bucket_for(window) <= MAX_POINTS
