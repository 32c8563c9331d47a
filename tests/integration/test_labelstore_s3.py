"""The label store on S3 (moto's server on loopback, see conftest): the same table, the same answers."""

from __future__ import annotations

import hashlib
import multiprocessing
from datetime import datetime, timedelta, timezone

import pytest

from qiloop.core.records import Box, LabelRecord, LabelStatus
from qiloop.labelstore import LabelStore

pytestmark = pytest.mark.s3

CREDENTIALS = {"key": "testing", "secret": "testing", "region": "us-east-1"}


@pytest.fixture(scope="module")
def endpoint(s3_server) -> str:
    """The S3 server's URL (see conftest), with the bucket made."""
    s3_server.bucket("qiloop")
    return s3_server.url


def s3_store(endpoint: str, name: str) -> LabelStore:
    return LabelStore.from_url(f"s3://qiloop/{name}", storage_options={"endpoint_url": endpoint, **CREDENTIALS})


T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def record(worker: int, i: int, hours: float = 0, status: LabelStatus = LabelStatus.APPROVED) -> LabelRecord:
    return LabelRecord(
        image_uri=f"w{worker}/{i}.jpg",
        image_sha256=hashlib.sha256(f"{worker}-{i}".encode()).hexdigest(),
        image_width=100,
        image_height=100,
        image_depth=3,
        annotations=(Box(class_id=0, left=1, top=1, width=5, height=5),),
        event_time=T0 + timedelta(seconds=i, hours=hours),
        status=status,
    )


def test_store_on_s3(endpoint):
    store = s3_store(endpoint, "labels")
    assert store.version() is None and store.latest() == []
    assert store.storage_options["AWS_ENDPOINT_URL"] == endpoint
    first = store.append([record(0, i) for i in range(20)])
    assert (first.version, first.written) == (1, 20)
    assert store.append([record(0, i) for i in range(20)]).written == 0
    moment = datetime.now(timezone.utc)
    fix = record(0, 3, hours=1, status=LabelStatus.REJECTED)
    assert store.append([fix]).version == 2
    assert len(store.latest()) == 19
    assert len(store.latest(as_of=1)) == 20
    assert len(store.latest(as_of=moment)) == 20
    assert [r.status for r in store.history(fix.image_sha256)] == [LabelStatus.APPROVED, LabelStatus.REJECTED]
    snap = store.snapshot(as_of=1)
    assert len(store.records(snap.record_ids, version=snap.label_store_version)) == 20
    assert [v.version for v in store.versions()] == [0, 1, 2]
    assert store.stats()["records"] == 21
    store.compact()
    assert len(store.latest(as_of=1)) == 20 and len(store.latest()) == 19


def append_batches(endpoint: str, name: str, worker: int, start) -> list[int | None]:
    """Run in a child process: five appends of 20 records."""
    store = s3_store(endpoint, name)
    start.wait()
    return [store.append([record(worker, b * 20 + j) for j in range(20)]).version for b in range(5)]


def test_two_processes_append_to_s3_at_once(endpoint):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Barrier(3)  # both children at the start line, then both go at once
        with ctx.Pool(2) as pool:
            pending = [pool.apply_async(append_batches, (endpoint, "concurrent", w, start)) for w in range(2)]
            start.wait(timeout=120)
            versions = [v for p in pending for v in p.get(timeout=300)]
    store = s3_store(endpoint, "concurrent")
    assert store.stats()["records"] == 200
    history = store.versions()
    # Contiguous, each append its own version. Two processes racing to create the table can
    # leave a second, empty CREATE commit (same schema) before the first append.
    assert [v.version for v in history] == list(range(len(history)))
    assert len(set(versions)) == 10 and len(history) in (11, 12)
    data_versions = [v.version for v in history if v.rows_added]
    assert sorted(versions) == data_versions
