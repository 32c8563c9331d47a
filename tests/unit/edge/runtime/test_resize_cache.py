"""The resize plan cache is bounded in bytes, not only in plans, and a thread can give its plans back."""

from __future__ import annotations

import threading

import numpy as np

from qiloop.edge.runtime import resize


def _cached() -> tuple[int, int]:
    plans = resize._plans.by_size.values()
    return len(plans), sum(p.nbytes for p in plans)


def _in_a_thread(work) -> None:
    """Run ``work`` on a fresh thread (the cache is per thread), re-raising what it raised."""
    failed: list[BaseException] = []

    def run():
        try:
            work()
        except BaseException as exc:  # handed to the test thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def test_odd_shapes_never_hold_more_than_the_byte_budget(monkeypatch):
    monkeypatch.setattr(resize, "_MAX_CACHED_BYTES", 2_000_000)

    def work():
        for i in range(6):  # each plan ~0.7 MB: a count bound of 8 alone would keep them all
            resize.resize_bilinear(np.zeros((200 + i, 300, 3), np.uint8), (32, 48), backend="numpy")
            count, held = _cached()
            assert held <= 2_000_000 and count <= 2
        big = np.zeros((600, 600, 3), np.uint8)  # its plan alone is over the budget: used, not kept
        out = resize.resize_bilinear(big, (32, 32), backend="numpy")
        assert out.shape == (32, 32, 3) and _cached()[1] <= 2_000_000
        assert all(key[0] != big.shape for key in resize._plans.by_size)

    _in_a_thread(work)


def test_forget_plans_empties_the_calling_threads_cache():
    def work():
        resize.resize_bilinear(np.zeros((50, 70, 3), np.uint8), (20, 30), backend="numpy")
        assert _cached()[0] == 1
        resize.forget_plans()
        assert _cached() == (0, 0)

    _in_a_thread(work)
