"""The image store on S3: a real S3-compatible server (moto) on loopback, s3fs and delta-rs talking to it."""

from __future__ import annotations

import hashlib
import io
import multiprocessing

import numpy as np
import pytest
from PIL import Image

from qiloop.core.errors import StoreError
from qiloop.settings import Settings
from qiloop.storage.image_store import ImageStore

pytestmark = pytest.mark.s3

BUCKET = "qiloop-test"


def jpeg(seed: int, size: tuple[int, int] = (40, 30)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def endpoint(s3_server) -> str:
    """The S3 server's URL (see conftest), with the bucket made."""
    s3_server.bucket(BUCKET)
    return s3_server.url


@pytest.fixture
def s3_url(endpoint, request) -> str:
    return f"s3://{BUCKET}/{request.node.name}/images"


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    for i in range(6):
        (folder / f"photo-{i}-cropped-left-top.jpg").write_bytes(jpeg(i))
    (folder / "photo-9-cropped-left-top.jpg_3").write_bytes(jpeg(9))
    (folder / "labels.csv").write_text("not,an,image\n")
    return folder


def test_ingest_read_and_reopen_on_s3(endpoint, s3_url, src):
    store = ImageStore.from_url(s3_url, storage_options={"endpoint_url": endpoint}, batch_size=3)
    report = store.ingest([src])
    assert (len(report.added), len(report.duplicates), len(report.rejected)) == (7, 0, 1)
    assert "labels.csv" in report.rejected[0].path

    for record in report.added:
        assert record.uri == f"{s3_url}/blobs/{record.sha256[:2]}/{record.sha256}.jpg"
        assert hashlib.sha256(store.read_bytes(record.sha256)).hexdigest() == record.sha256
    assert {r.group for r in report.added} == {f"photo-{i}" for i in (0, 1, 2, 3, 4, 5, 9)}

    import s3fs

    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint})
    assert len(fs.find(f"{s3_url}/blobs")) == 7
    assert fs.exists(f"{s3_url}/_index/_delta_log/00000000000000000003.json")  # create + 3 batches

    reopened = ImageStore.from_url(s3_url, storage_options={"endpoint_url": endpoint})
    assert reopened.list() == store.list()
    again = reopened.ingest([src])
    assert (len(again.added), len(again.duplicates)) == (0, 7)


def test_from_settings_on_s3(endpoint, s3_url, tmp_path):
    settings = Settings(home=tmp_path, image_store_url=s3_url, s3_endpoint_url=endpoint)
    store = ImageStore.from_settings(settings)
    record = store.ingest_bytes(jpeg(42), name="cam-1.jpg", source="camera:1")
    assert ImageStore.from_settings(settings).get(record.sha256) == record


def test_missing_bucket_is_a_store_error(endpoint):
    with pytest.raises(StoreError) as caught:
        ImageStore.from_url("s3://no-such-bucket/images", storage_options={"endpoint_url": endpoint})
    assert "bucket" in caught.value.hint


def _ingest_worker(url: str, endpoint: str, seeds: list[int], start, results) -> None:
    start.wait(timeout=60)
    store = ImageStore.from_url(url, storage_options={"endpoint_url": endpoint}, batch_size=2)
    records = [store.ingest_bytes(jpeg(s), name=f"{s}.jpg") for s in seeds[:3]]  # one commit each
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        for s in seeds[3:]:
            (Path(folder) / f"{s}.jpg").write_bytes(jpeg(s))
        report = store.ingest([folder])
    results.put(len(records) + len(report.added) + len(report.duplicates))


@pytest.mark.slow
def test_two_processes_append_to_one_s3_store(endpoint, s3_url):
    seeds = [list(range(0, 14)), list(range(7, 21))]  # 7 shared
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_ingest_worker, args=(s3_url, endpoint, s, start, results)) for s in seeds]
    for w in workers:
        w.start()
    start.set()
    counts = [results.get(timeout=180) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert counts == [14, 14]
    store = ImageStore.from_url(s3_url, storage_options={"endpoint_url": endpoint})
    assert {r.sha256 for r in store.list()} == {hashlib.sha256(jpeg(s)).hexdigest() for s in range(21)}
    assert len(store) == 21
