"""Running counters and latency percentiles over a bounded window, as a status message."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from qiloop.edge.inference.outbox import OutboxStats
from qiloop.edge.inference.stats import RunningStats, percentile


@pytest.mark.parametrize(
    "values", [[5.0], [1.0, 2.0], [3.0, 1.0, 2.0, 10.0], list(np.random.default_rng(0).random(101))]
)
@pytest.mark.parametrize("q", [0, 50, 95, 100])
def test_percentile_matches_numpy(values, q):
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_nothing_is_none():
    assert percentile([], 50) is None


def test_latencies_are_kept_over_a_bounded_window():
    stats = RunningStats(window=10)
    for ms in range(100):  # 0..99; the window holds 90..99
        stats.record(float(ms), defect=ms % 4 == 0)
    s = stats.snapshot()
    assert (s.images_processed, s.defects, s.latency_p50_ms, s.defect_rate) == (100, 25, 94.5, 0.25)


def test_status_carries_the_counters_and_the_outbox():
    now = [100.0]
    stats = RunningStats(clock=lambda: now[0])
    now[0] = 112.5
    stats.record(10.0, defect=True, feedback=True)
    stats.record(20.0, defect=False, duplicate=True)
    stats.reject()
    box = OutboxStats(depth=3, queued_bytes=300, max_bytes=1000,
                      counts={"result": {"dropped": 2, "refused": 1}, "status": {"dropped": 4}})  # fmt: skip
    status = stats.status("cam-1", "running", model_name="m", model_version="2", outbox=box)
    assert (status.uptime_s, status.images_processed, status.images_rejected, status.defects) == (12.5, 2, 1, 1)
    assert (status.defect_rate, status.feedback_sent, status.latency_p50_ms) == (0.5, 1, 15.0)
    assert (status.outbox_depth, status.outbox_dropped, status.outbox_refused) == (3, 6, 1)
    assert stats.taken == 3 and stats.snapshot().duplicates == 1


def test_counting_from_several_threads_loses_nothing():
    stats = RunningStats(window=50)

    def work() -> None:
        for _ in range(2000):
            stats.record(1.0, defect=True)
            stats.reject()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = stats.snapshot()
    assert (s.images_processed, s.defects, s.images_rejected) == (8000, 8000, 8000)
