"""Upkeep of the image store's tables: compaction merges files, vacuum removes the replaced ones, rows stay."""

from __future__ import annotations

from qiloop.storage import ImageStore
from qiloop.storage.upkeep import upkeep_image_store, upkeep_table


def test_compaction_and_vacuum_keep_every_image(tmp_path, images):
    store = ImageStore.from_url(str(tmp_path / "store"))
    shas = {store.ingest_bytes(images.png(seed=i), name=f"{i}.png").sha256 for i in range(4)}
    kept = upkeep_image_store(store.url, retention_hours=168)
    [index] = kept  # no feedback table yet
    assert index.files_before == 4 and index.files_after == 1 and index.files_vacuumed == 0  # within retention
    again = upkeep_table(f"{store.url}/_index", retention_hours=0)
    assert again.files_vacuumed == 4 and again.files_after == 1
    reopened = ImageStore.from_url(store.url)
    assert {r.sha256 for r in reopened.list()} == shas
    assert upkeep_table(str(tmp_path / "no-table")) is None
