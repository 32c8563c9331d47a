"""The image store on a local folder: dedup, rejects, groups, reads, repair after a crash."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timezone
from pathlib import Path

import pytest
from deltalake import DeltaTable
from PIL import Image

from qiloop.core.errors import ImageRejectedError, NotFoundError, StoreError
from qiloop.settings import Settings
from qiloop.storage.image_store import ImageStore
from qiloop.storage.index import ImageIndex


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "blobs").rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore.from_url(str(tmp_path / "store"))


@pytest.fixture
def folder(tmp_path, images) -> Path:
    """Three good images (one in a subfolder, one PNG named *.jpg_3) among five bad files."""
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "a-cropped-left-top.jpg").write_bytes(images.jpeg(seed=1))
    (src / "a-cropped-right-top.jpg_3").write_bytes(images.png(seed=2))
    (src / "nested" / "b.png").write_bytes(images.png(seed=3, mode="L"))
    (src / "anim.jpg").write_bytes(images.encode("GIF", "RGB", size=(8, 8)))
    (src / "empty.jpg").write_bytes(b"")
    (src / "cut.png").write_bytes(images.png(seed=4)[:-40])
    (src / "notes.txt").write_text("not an image\n")
    (src / "huge.png").write_bytes(images.png_bomb())
    (src / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: skipped by the folder walk
    return src


def test_ingest_keeps_going_after_rejects_and_names_each(store, folder):
    report = store.ingest([folder, folder / "missing.jpg"])
    assert sorted(r.original_name for r in report.added) == [
        "a-cropped-left-top.jpg",
        "a-cropped-right-top.jpg_3",
        "b.png",
    ]
    reasons = {Path(e.path).name: e.reason for e in report.rejected}
    assert set(reasons) == {"anim.jpg", "empty.jpg", "cut.png", "notes.txt", "huge.png", "missing.jpg"}
    assert "GIF" in reasons["anim.jpg"]
    assert "empty" in reasons["empty.jpg"]
    assert "truncated" in reasons["cut.png"]
    assert "text" in reasons["notes.txt"]
    assert "above the limit" in reasons["huge.png"]
    assert "no such file" in reasons["missing.jpg"]
    assert all(isinstance(e, ImageRejectedError) and e.hint for e in report.rejected)
    assert len(store) == 3
    assert not report.ok


def test_format_comes_from_the_bytes_not_the_name(store, folder):
    store.ingest([folder])
    (record,) = [r for r in store.list() if r.original_name.endswith(".jpg_3")]
    assert record.format == "png"
    assert record.uri.endswith(f"/blobs/{record.sha256[:2]}/{record.sha256}.png")
    assert Path(record.uri).read_bytes() == (folder / "a-cropped-right-top.jpg_3").read_bytes()
    assert record.group == "a"


def test_same_bytes_twice_are_one_image_and_the_second_ingest_writes_nothing(store, folder, tmp_path):
    first = store.ingest([folder])
    root = tmp_path / "store"
    blobs, version = blob_files(root), DeltaTable(str(root / "_index")).version()
    copy = tmp_path / "copy.jpg"
    copy.write_bytes((folder / "a-cropped-left-top.jpg").read_bytes())
    second = store.ingest([folder, copy])
    assert second.added == []
    assert {r.sha256 for r in second.duplicates} == {r.sha256 for r in first.added}
    assert len(second.duplicates) == 4  # the copy under another name is the same image
    assert blob_files(root) == blobs
    assert DeltaTable(str(root / "_index")).version() == version
    assert len(store) == 3


def test_duplicates_within_one_run(store, images, tmp_path):
    for name in ("x.jpg", "y.jpg"):
        (tmp_path / name).write_bytes(images.jpeg(seed=9))
    report = store.ingest([tmp_path / "x.jpg", tmp_path / "y.jpg"])
    assert len(report.added) == 1 and len(report.duplicates) == 1
    assert report.duplicates[0] == report.added[0]


def test_record_fields(store, images):
    data = images.jpeg(seed=5, size=(45, 30))
    record = store.ingest_bytes(data, name="cams/image-9-cropped-left-top.jpg", source="camera:7")
    assert record.sha256 == sha(data)
    assert (record.width, record.height, record.depth, record.format) == (45, 30, 3, "jpeg")
    assert record.size_bytes == len(data)
    assert record.source == "camera:7"
    assert record.group == "image-9"
    assert record.original_name == "image-9-cropped-left-top.jpg"
    assert record.captured_at is None
    assert (datetime.now(timezone.utc) - record.ingested_at).total_seconds() < 60
    assert store.get(record.sha256) == record


def test_capture_time_explicit_then_exif(store, images):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:01:28 09:50:34"
    data = images.jpeg(exif=exif)
    from_exif = store.ingest_bytes(data, name="a.jpg")
    assert from_exif.captured_at == datetime(2021, 1, 28, 9, 50, 34, tzinfo=timezone.utc)
    given = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert store.ingest_bytes(images.jpeg(seed=1, exif=exif), name="b.jpg", captured_at=given).captured_at == given


def test_ingest_bytes_duplicate_returns_the_stored_record_and_rejects_raise(store, images):
    first = store.ingest_bytes(images.png(), name="a.png", source="import")
    again = store.ingest_bytes(images.png(), name="other.png", source="feedback:dev1")
    assert again == first
    with pytest.raises(ImageRejectedError, match=r"upload\.bin"):
        store.ingest_bytes(b"GIF89a" + bytes(20), name="upload.bin")
    assert len(store) == 1


def test_custom_group_pattern(tmp_path, images):
    store = ImageStore.from_url(str(tmp_path / "s"), group_pattern=r"^cam\d+_(?P<group>\d+)_tile")
    a = store.ingest_bytes(images.jpeg(seed=1), name="cam3_0042_tile1.jpg")
    b = store.ingest_bytes(images.jpeg(seed=2), name="cam3_0042_tile2.jpg")
    c = store.ingest_bytes(images.jpeg(seed=3), name="other.jpeg")
    assert (a.group, b.group, c.group) == ("0042", "0042", "other")


def test_from_settings(tmp_path, images):
    settings = Settings(home=tmp_path / "home", group_pattern=r"^(\w+)-", max_image_pixels=100)
    store = ImageStore.from_settings(settings)
    assert store.url == str((tmp_path / "home" / "images").resolve())
    assert store.ingest_bytes(images.jpeg(size=(10, 10)), name="lot7-a.jpg").group == "lot7"
    with pytest.raises(ImageRejectedError, match="above the limit of 100"):
        store.ingest_bytes(images.jpeg(size=(11, 10)), name="lot7-b.jpg")


def test_get_find_contains(store, images):
    record = store.ingest_bytes(images.jpeg(), name="a.jpg")
    assert store.find(record.sha256) == record
    assert record.sha256 in store and "0" * 64 not in store and 42 not in store
    assert store.find("0" * 64) is None
    with pytest.raises(NotFoundError, match="no image with sha256") as caught:
        store.get("0" * 64)
    assert "ingest" in caught.value.hint
    with pytest.raises(NotFoundError) as caught:
        store.get("not-a-hash")
    assert "64 lower-case hex" in caught.value.hint
    assert store.resolve(record.sha256[:8]) == record


def test_read_bytes_checks_the_content(store, images):
    data = images.png(seed=7)
    record = store.ingest_bytes(data, name="a.png")
    assert store.read_bytes(record.sha256) == data
    Path(record.uri).write_bytes(images.png(seed=8))
    with pytest.raises(StoreError, match="do not match"):
        store.read_bytes(record.sha256)
    Path(record.uri).unlink()
    with pytest.raises(NotFoundError, match="missing"):
        store.read_bytes(record.sha256)


def test_list_by_source_and_unlabeled(store, images):
    a = store.ingest_bytes(images.jpeg(seed=1), name="a.jpg", source="camera:1")
    b = store.ingest_bytes(images.jpeg(seed=2), name="b.jpg", source="camera:2")
    c = store.ingest_bytes(images.jpeg(seed=3), name="c.jpg", source="import")
    d = store.ingest_bytes(images.jpeg(seed=4), name="d.jpg", source="cameraman")
    assert store.list() == [a, b, c, d]
    assert store.list(source="camera") == [a, b]
    assert store.list(source="camera:2") == [b]
    assert store.list(source="nowhere") == []
    assert store.unlabeled({a.sha256, c.sha256, "f" * 64}) == [b, d]
    assert store.unlabeled(set()) == [a, b, c, d]
    assert store.unlabeled([r.sha256 for r in (a, b, c, d)]) == []


def test_index_survives_reopening(tmp_path, store, folder):
    store.ingest([folder], source="import")
    reopened = ImageStore.from_url(str(tmp_path / "store"))
    assert len(reopened) == 3
    assert reopened.list() == store.list()


def test_index_is_written_in_batches(tmp_path, images):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(7):
        (src / f"{i}.jpg").write_bytes(images.jpeg(seed=i))
    store = ImageStore.from_url(str(tmp_path / "s"), batch_size=3)
    store.ingest([src], progress=True)
    assert DeltaTable(str(tmp_path / "s" / "_index")).version() == 3  # create + 3 commits (3, 3, 1 rows)
    assert len(store) == 7


def test_a_crash_between_bytes_and_index_is_repaired_by_the_next_ingest(tmp_path, images, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"{i}.png").write_bytes(images.png(seed=i))
    store = ImageStore.from_url(str(tmp_path / "s"), batch_size=2)
    real_append, calls = ImageIndex.append, []

    def failing_append(self, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise StoreError("the disk went away")
        real_append(self, rows)

    monkeypatch.setattr(ImageIndex, "append", failing_append)
    with pytest.raises(StoreError):
        store.ingest([src])
    monkeypatch.setattr(ImageIndex, "append", real_append)
    assert len(blob_files(tmp_path / "s")) >= 4  # bytes of the failed batch (and maybe later ones) are on disk ...
    reopened = ImageStore.from_url(str(tmp_path / "s"))
    assert len(reopened) == 2  # ... but only the first batch is indexed
    report = reopened.ingest([src])
    assert (len(report.added), len(report.duplicates)) == (3, 2)
    assert len(reopened) == 5 and len(blob_files(tmp_path / "s")) == 5
    for record in reopened.list():
        assert sha(Path(record.uri).read_bytes()) == record.sha256


def test_duplicate_rows_from_racing_writers_read_as_one_image(tmp_path, images):
    first = ImageStore.from_url(str(tmp_path / "s"))
    second = ImageStore.from_url(str(tmp_path / "s"))
    data = images.jpeg()
    a = first.ingest_bytes(data, name="first.jpg")
    second._index.append(  # what a writer that had not yet seen the first row would append
        [
            {
                "key": "blobs/x",
                **a.model_dump(exclude={"uri"}),
                "original_name": "late.jpg",
                "ingested_at": datetime.now(timezone.utc),
            }
        ]
    )
    for store in (first, second, ImageStore.from_url(str(tmp_path / "s"))):
        store.refresh()
        assert len(store) == 1
        assert store.get(a.sha256).original_name == "first.jpg"


def test_compact_keeps_every_image(tmp_path, images):
    store = ImageStore.from_url(str(tmp_path / "s"))
    records = [store.ingest_bytes(images.jpeg(seed=i), name=f"{i}.jpg") for i in range(6)]
    store.compact()
    table = DeltaTable(str(tmp_path / "s" / "_index"))
    assert len(table.file_uris()) == 1
    assert ImageStore.from_url(str(tmp_path / "s")).list() == records


def _png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8 + i, 8), (i, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def test_batch_defers_index_commits_and_indexes_everything(tmp_path):
    store = ImageStore.from_url(str(tmp_path / "store"), batch_size=3)
    start = DeltaTable(str(tmp_path / "store" / "_index")).version()
    with store.batch():
        records = [store.ingest_bytes(_png(i), name=f"f{i}.png") for i in range(7)]
        again = store.ingest_bytes(_png(0), name="same.png")
    assert again.sha256 == records[0].sha256
    # 7 new rows in batches of 3: three commits, not seven.
    assert DeltaTable(str(tmp_path / "store" / "_index")).version() - start == 3
    reopened = ImageStore.from_url(str(tmp_path / "store"))
    assert len(reopened) == 7 and all(r.sha256 in reopened for r in records)


def test_batch_commits_rows_even_when_the_block_raises(tmp_path):
    store = ImageStore.from_url(str(tmp_path / "store"))
    with pytest.raises(RuntimeError), store.batch():
        record = store.ingest_bytes(_png(1), name="a.png")
        raise RuntimeError("caller failed")
    assert record.sha256 in ImageStore.from_url(str(tmp_path / "store"))


def test_add_bytes_says_new_or_duplicate_and_a_given_group_overrides_the_pattern(store, images):
    with store.batch():
        first, new = store.add_bytes(images.png(seed=5), name="a-cropped-left.png", source="upload:ada", group="lot-7")
        again, new_again = store.add_bytes(images.png(seed=5), name="b.png", group="other")  # same batch, pending row
    assert new and not new_again and again == first
    assert first.group == "lot-7" and first.source == "upload:ada"
    later, new_later = store.add_bytes(images.png(seed=5), name="c.png")
    assert not new_later and later.group == "lot-7"
    derived = store.ingest_bytes(images.png(seed=6), name="p1-cropped-left.png")
    assert derived.group == "p1"  # no group given: the group pattern reads it from the name
    with pytest.raises(ImageRejectedError):
        store.add_bytes(b"plain text", name="x.jpg", group="lot-7")
    assert len(store) == 2
