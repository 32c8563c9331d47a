"""Two processes ingesting into one store at once lose nothing."""

from __future__ import annotations

import hashlib
import multiprocessing
from pathlib import Path

import pytest

from qiloop.storage.image_store import ImageStore

pytestmark = pytest.mark.slow


def _ingest_worker(root: str, folder: str, start, results) -> None:
    """Runs in a spawned process: open (maybe create) the store when told, ingest, report counts."""
    start.wait(timeout=60)
    store = ImageStore.from_url(root, batch_size=4)
    report = store.ingest([folder])
    results.put((folder, [r.sha256 for r in report.added], len(report.duplicates), len(report.rejected)))


def test_two_processes_ingesting_concurrently_lose_nothing(tmp_path, images):
    shared = [images.jpeg(seed=1000 + i, size=(32, 24)) for i in range(16)]
    expected: set[str] = set()
    folders = []
    for p in range(2):
        folder = tmp_path / f"src{p}"
        folder.mkdir()
        own = [images.jpeg(seed=p * 100 + i, size=(32, 24)) for i in range(40)]
        for i, data in enumerate(own + shared):
            (folder / f"img-{i:03d}.jpg").write_bytes(data)
            expected.add(hashlib.sha256(data).hexdigest())
        folders.append(str(folder))
    root = str(tmp_path / "store")

    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_ingest_worker, args=(root, f, start, results)) for f in folders]
    for w in workers:
        w.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0

    added = [sha for _, shas, _, _ in outcomes for sha in shas]
    assert all(rejected == 0 for *_, rejected in outcomes)
    assert set(added) == expected  # every image was added by one process or the other
    assert sum(len(s) + d for _, s, d, _ in outcomes) == 2 * 56  # each process accounted for each of its files
    store = ImageStore.from_url(root)
    assert len(store) == len(expected) == 96
    assert {r.sha256 for r in store.list()} == expected
    for record in store.list():
        assert hashlib.sha256(Path(record.uri).read_bytes()).hexdigest() == record.sha256
