"""BMP, TIFF and WebP, as industrial cameras and pipelines write them, enter the store and leave it for training."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from qiloop.labelstore.formats import yolo
from qiloop.labelstore.formats.draft import LabelDraft
from qiloop.labelstore.formats.yolo_folder import export, image_header
from qiloop.storage.image_store import ImageStore

pytest.importorskip("yaml")

FORMATS = [("BMP", "RGB", "bmp", "bmp"), ("TIFF", "RGB", "tiff", "tif"), ("TIFF", "I;16", "tiff", "tif")]
FORMATS += [("WEBP", "RGB", "webp", "webp")]


@pytest.mark.parametrize(("fmt", "mode", "stored", "ext"), FORMATS)
def test_ingest_stores_each_format_under_its_own_extension(tmp_path, images, fmt, mode, stored, ext):
    data = images.encode(fmt, mode, size=(40, 30), seed=5, **({"lossless": True} if fmt == "WEBP" else {}))
    src = tmp_path / "src"
    src.mkdir()
    (src / "frame.jpg").write_bytes(data)  # the name lies; the bytes decide
    store = ImageStore.from_url(str(tmp_path / "store"))
    report = store.ingest([src], progress=False)
    assert report.ok, report.rejected
    record = report.added[0]
    assert (record.format, record.width, record.height) == (stored, 40, 30)
    assert record.uri.endswith(f".{ext}")
    assert Path(record.uri).read_bytes() == data
    assert store.read_bytes(record.sha256) == data
    assert store.ingest_bytes(data, name="again.bin").sha256 == record.sha256  # a duplicate, nothing new


@pytest.mark.parametrize(("fmt", "mode", "stored", "ext"), FORMATS)
def test_yolo_export_of_stored_formats_names_files_that_ultralytics_reads(tmp_path, images, fmt, mode, stored, ext):
    data = images.encode(fmt, mode, size=(40, 30), seed=6)
    store = ImageStore.from_url(str(tmp_path / "store"))
    record = store.ingest_bytes(data, name="cam1-0001")  # no suffix: the export adds one from the bytes
    draft = LabelDraft(record.uri, 40, 30, record.depth, (), datetime(2026, 1, 1, tzinfo=timezone.utc))
    result = export(tmp_path / "yolo", [(draft, "train", "cam1-0001")], ["scratch"], lambda uri: Path(uri).read_bytes())
    assert not result.errors
    (written,) = (tmp_path / "yolo" / "images" / "train").iterdir()
    assert written.suffix in yolo.IMAGE_SUFFIXES
    assert image_header(written)[:3] == (40, 30, record.depth)
    with Image.open(written) as reopened:
        assert reopened.format == fmt
