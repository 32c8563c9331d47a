"""All the real metal-tag photos go into the store, messy names included."""

from __future__ import annotations

import hashlib

import pytest

from qiloop.storage.image_store import ImageStore

pytestmark = pytest.mark.realdata


def test_ingest_all_real_photos(tmp_path, real_images):
    files = sorted(p for p in real_images.rglob("*") if p.is_file())
    assert len(files) == 209
    unique = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    store = ImageStore.from_url(str(tmp_path / "store"))

    report = store.ingest([real_images])

    assert report.rejected == []
    assert len(report.added) == len(unique)
    assert len(report.duplicates) == len(files) - len(unique)
    records = store.list()
    assert {r.sha256 for r in records} == unique
    assert {(r.format, r.width, r.height, r.depth) for r in records} == {("jpeg", 450, 300, 3)}
    numbered = [r for r in records if not r.original_name.endswith(".jpg")]
    assert len(numbered) == 10
    assert {r.original_name.rsplit("_", 1)[1] for r in numbered} == {str(i) for i in range(10)}
    for record in records:
        assert record.group == record.original_name.split("-cropped")[0]
        assert record.group.startswith("image-2020-04-22-")
    assert {r.group for r in numbered} == {"image-2020-04-22-10-53-58-45"}
    assert len({r.group for r in records}) == len({p.name.split("-cropped")[0] for p in files})

    again = ImageStore.from_url(str(tmp_path / "store")).ingest([real_images])
    assert (len(again.added), len(again.duplicates), len(again.rejected)) == (0, 209, 0)
