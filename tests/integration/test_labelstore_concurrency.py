"""Several real processes append at once; a writer killed mid-append breaks nothing."""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest

from qiloop.core.records import Box, LabelRecord
from qiloop.labelstore import LabelStore

pytestmark = pytest.mark.slow

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def make_record(worker: int, i: int) -> LabelRecord:
    return LabelRecord(
        image_uri=f"w{worker}/{i}.jpg",
        image_sha256=hashlib.sha256(f"{worker}-{i}".encode()).hexdigest(),
        image_width=100,
        image_height=100,
        image_depth=3,
        annotations=(Box(class_id=0, left=1, top=1, width=5, height=5),),
        event_time=T0 + timedelta(seconds=i),
        labeling_job=f"job-{worker}",
    )


def append_batches(url: str, worker: int, batches: int, size: int, start) -> list[tuple[int | None, int]]:
    """Run in a child process: append ``batches`` batches of ``size`` records."""
    store = LabelStore.from_url(url)
    start.wait()
    out = []
    for b in range(batches):
        result = store.append([make_record(worker, b * size + j) for j in range(size)])
        out.append((result.version, result.written))
    return out


def run_workers(url: str, jobs: list[tuple[int, int, int]]) -> list[list[tuple[int | None, int]]]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Barrier(len(jobs) + 1)  # every child at the start line, then all go at once
        with ctx.Pool(len(jobs)) as pool:
            pending = [pool.apply_async(append_batches, (url, *job, start)) for job in jobs]
            start.wait(timeout=120)
            return [p.get(timeout=300) for p in pending]


def test_four_processes_lose_nothing_and_duplicate_nothing(tmp_path):
    url = str(tmp_path / "labels")
    results = run_workers(url, [(w, 10, 50) for w in range(4)])
    store = LabelStore.from_url(url)
    assert store.stats()["records"] == 2000
    assert len(store.latest()) == 2000
    written_versions = [v for worker in results for v, n in worker if n]
    assert sorted(written_versions) == list(range(1, 41))  # each append its own version, 0 is the creation
    assert [v.version for v in store.versions()] == list(range(41))
    assert all(n == 50 for worker in results for _, n in worker)
    for w in range(4):
        assert store.history(make_record(w, 499).image_sha256)[0].labeling_job == f"job-{w}"


def test_racing_retries_of_the_same_records_stay_logically_unique(tmp_path):
    url = str(tmp_path / "labels")
    results = run_workers(url, [(7, 4, 100)] * 3)  # three processes append the very same records
    store = LabelStore.from_url(url)
    assert store.stats()["records"] == 400
    latest = store.latest()
    assert len(latest) == len({r.record_id for r in latest}) == 400
    assert sum(n for worker in results for _, n in worker) >= 400  # racing copies may land, reads hide them
    one = make_record(7, 123)
    assert [r.record_id for r in store.history(one.image_sha256)] == [one.record_id]


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {bench!r})
    from bench_label_store import make_rows
    from qiloop.labelstore import LabelStore
    rows = make_rows({n}, seed={seed})
    store = LabelStore.from_url({url!r})
    print("ready", flush=True)
    result = store.append_table(rows)
    print("done", result.version, flush=True)
    """
)


def test_writer_killed_mid_append_leaves_a_readable_table(tmp_path):
    from pathlib import Path

    bench = str(Path(__file__).resolve().parents[2] / "benchmarks")
    url = str(tmp_path / "labels")
    store = LabelStore.from_url(url)
    store.append([make_record(0, i) for i in range(10)])
    rng = random.Random(11)
    killed_before_commit = committed = 0
    for attempt in range(5):
        version, records = store.version(), store.stats()["records"]
        script = WRITER.format(bench=bench, n=150_000, seed=attempt, url=url)
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 1.2))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        after = LabelStore.from_url(url)
        assert after.version() in (version, version + 1)
        if after.version() == version:
            killed_before_commit += 1
            assert after.stats()["records"] == records
        else:
            committed += 1
            assert after.stats()["records"] == records + 150_000
        assert len(after.latest(as_of=version, status=None)) == len(store.latest(as_of=version, status=None))
        result = after.append([make_record(1, 1000 + attempt)])
        assert result.written == 1 and result.version == after.version()
    assert killed_before_commit + committed == 5
    assert killed_before_commit > 0, "no kill landed before the commit; the test did not test anything"
