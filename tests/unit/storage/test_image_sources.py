"""Input walking and the bounded, ordered thread map used by ingest."""

from __future__ import annotations

import threading
import time

import pytest

from qiloop.core.errors import ImageRejectedError
from qiloop.storage.sources import ordered_map, walk


def test_ordered_map_keeps_input_order_and_passes_errors_through():
    def slow_square(n: int) -> int:
        time.sleep(0.002 * (n % 3))
        if n == 5:
            raise ValueError("five")
        return n * n

    futures = list(ordered_map(slow_square, range(10), workers=3, window=4))
    assert [f.result() for f in futures[:5]] == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError, match="five"):
        futures[5].result()
    assert [f.result() for f in futures[6:]] == [36, 49, 64, 81]


def test_ordered_map_keeps_at_most_window_items_in_flight():
    running, peak, lock = 0, 0, threading.Lock()

    def track(_: int) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.001)
        with lock:
            running -= 1

    consumed = 0
    for future in ordered_map(track, range(200), workers=8, window=5):
        future.result()
        consumed += 1
    assert consumed == 200
    assert peak <= 5


def test_walk_is_sorted_recursive_skips_hidden_and_reports_missing(tmp_path):
    for rel in ("b/2.jpg", "b/1.jpg", "a.jpg", ".hidden/x.jpg", "b/.DS_Store"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    items = list(walk([tmp_path, tmp_path / "b" / ".DS_Store", tmp_path / "nope"]))
    names = [str(i.relative_to(tmp_path)) for i in items[:-1]]
    assert names == ["a.jpg", "b/1.jpg", "b/2.jpg", "b/.DS_Store"]  # named explicitly: offered
    assert isinstance(items[-1], ImageRejectedError) and "no such file" in items[-1].reason
