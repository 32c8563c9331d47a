"""The page filters: times, how long ago, figures."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from qiloop.console.render import ago, num, when


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5 s ago"), (59.9, "59 s ago"), (60, "1 min ago"), (7300, "2 h ago"), (90000, "1 d ago")]
)
def test_ago(seconds, text):
    assert ago(1_000_000.0 - seconds, now=1_000_000.0) == text


def test_ago_never_and_future():
    assert ago(None) == "never"
    assert ago(2_000.0, now=1_000.0) == "0 s ago"  # a clock ahead of ours is not "in the future"


def test_when_reads_epoch_seconds_naive_and_aware_times_as_utc():
    assert when(0) == "1970-01-01 00:00:00 UTC"
    assert when(datetime(2026, 12, 3, 12, 5)) == "2026-12-03 12:05:00 UTC"
    assert when(datetime(2026, 12, 3, 12, 5, tzinfo=timezone.utc)) == "2026-12-03 12:05:00 UTC"
    assert when(None) == "—"


@pytest.mark.parametrize(
    ("value", "digits", "text"), [(None, 3, "—"), (3, 3, "3"), (0.71234, 3, "0.712"), (24.0, 1, "24.0")]
)
def test_num(value, digits, text):
    assert num(value, digits) == text
