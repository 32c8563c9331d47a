"""Uploads into a real image store and a real SQLite labelling database: outcomes per file, groups, jobs."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from labeling_helpers import png
from qiloop.core.errors import ConfigurationError
from qiloop.labeling import jobs
from qiloop.labeling.uploads import job_spec, upload_images
from qiloop.storage import ImageStore


def jpeg(seed: int = 0) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (40, 30), bytes((seed + i) % 251 for i in range(40 * 30 * 3))).save(out, "JPEG")
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A real small PNG whose IHDR is rewritten (checksum too) to declare ``width`` x ``height``."""
    data = bytearray(png(1, (8, 8)))
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore.from_url(str(tmp_path / "images"))


BAD = [
    ("notes.jpg", b"these bytes are a shopping list, not a photo\n", "not a JPEG, PNG, BMP, TIFF or WebP"),
    ("cut.png", png(3)[:400], "truncated"),
    ("bomb.png", png_bomb(), "decompression bomb"),
    ("empty.png", b"", "empty file"),
]


def test_each_file_gets_its_outcome_and_a_bad_file_never_stops_the_others(store):
    files = [("a.jpg", jpeg(1)), ("b.png", png(2))] + [(name, data) for name, data, _ in BAD] + [("c.png", png(2))]
    report = upload_images(store, files, uploader="ada")
    outcomes = {f.name: f.outcome for f in report.files}
    assert [f.name for f in report.files] == [name for name, _ in files]  # input order
    assert outcomes == {"a.jpg": "stored", "b.png": "stored", "c.png": "duplicate"} | {n: "rejected" for n, *_ in BAD}
    for name, _, reason in BAD:
        [row] = [f for f in report.files if f.name == name]
        assert reason in row.error and row.hint and row.record is None
    a = report.files[0].record
    assert (a.format, a.width, a.height, a.source) == ("jpeg", 40, 30, "upload:ada")
    assert report.files[-1].record == report.files[1].record
    b = report.files[1].record
    assert len(store) == 2 and {r.sha256 for r in store.list(source="upload")} == {a.sha256, b.sha256}
    assert report.status == 207
    body = report.to_json()
    assert (body["stored"], body["duplicates"], body["rejected"]) == (2, 1, 4)
    assert body["files"][0]["sha256"] == a.sha256 and body["files"][2]["sha256"] is None


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ([("a.png", png(1))], 201),
        ([(n, d) for n, d, _ in BAD], 422),
    ],
)
def test_the_status_says_whether_everything_something_or_nothing_was_stored(store, files, status):
    assert upload_images(store, files, uploader="ada").status == status


def test_uploading_the_same_files_again_stores_nothing_new(store):
    files = [("a.png", png(1)), ("b.png", png(2))]
    upload_images(store, files, uploader="ada")
    again = upload_images(store, [("renamed.png", io.BytesIO(png(1)))], uploader="bob")
    assert [f.outcome for f in again.files] == ["duplicate"] and again.status == 200
    assert again.files[0].record.source == "upload:ada"  # the stored record, untouched
    assert len(store) == 2


def test_names_lose_their_folders_and_a_given_group_holds_for_every_new_image(store):
    report = upload_images(
        store, [("C:\\shots\\x-cropped-left.png", png(1)), ("../../y.png", png(2))], uploader="ada", group=" line-3 "
    )
    assert [f.name for f in report.files] == ["x-cropped-left.png", "y.png"]
    assert {f.record.group for f in report.files} == {"line-3"}
    assert [f.record.original_name for f in report.files] == ["x-cropped-left.png", "y.png"]


@pytest.mark.parametrize("group", ["x" * 129, "tab\there", "line\nbreak"])
def test_a_bad_group_is_refused_before_anything_is_stored(store, group):
    with pytest.raises(ConfigurationError, match="group") as caught:
        upload_images(store, [("a.png", png(1))], uploader="ada", group=group)
    assert caught.value.hint and len(store) == 0


def test_an_upload_without_files_is_refused(store):
    with pytest.raises(ConfigurationError, match="no file"):
        upload_images(store, [], uploader="ada")


def test_a_job_is_created_from_every_file_in_the_store(store, db):
    upload_images(store, [("old.png", png(9))], uploader="ada")
    spec = job_spec("week-47", "scratch, dent", 2, ["scratch"])
    files = [("a.png", png(1)), ("old.png", png(9)), ("bad.jpg", b"text")]
    report = upload_images(store, files, uploader="ada", job=spec, db=db)
    assert report.job is not None and report.job.images == 2 and report.job_error is None
    assert report.job.classes == ("scratch", "dent") and report.job.annotators_per_image == 2
    assert report.to_json()["job"] == {"name": "week-47", "images": 2, "classes": ["scratch", "dent"]}


def test_a_taken_job_name_refuses_the_upload_before_anything_is_stored(store, db):
    upload_images(store, [("a.png", png(1))], uploader="ada", job=job_spec("week-47", "", None, ["scratch"]), db=db)
    with pytest.raises(ConfigurationError, match="already exists") as caught:
        upload_images(store, [("b.png", png(2))], uploader="ada", job=job_spec("week-47", "", None, ["s"]), db=db)
    assert "new job" in caught.value.hint and len(store) == 1


def test_no_job_when_no_file_is_stored_and_the_report_says_why(store, db):
    report = upload_images(store, [("bad.jpg", b"text")], uploader="ada", job=job_spec("j", "", None, ["s"]), db=db)
    assert report.job is None and "no image to label" in report.job_error.message
    assert report.to_json()["job_error"]["hint"]
    with db.session() as session:
        assert jobs.list_jobs(session) == []


def test_job_spec_from_form_fields():
    assert job_spec("", "a", 3, ["scratch"]) is None and job_spec(None, None, None, ["scratch"]) is None
    spec = job_spec(" week-1 ", " ", None, ["scratch"])
    assert (spec.name, spec.classes, spec.annotators_per_image) == ("week-1", ["scratch"], 3)
    with pytest.raises(ConfigurationError, match="invalid job"):
        job_spec("<b>no spaces</b>", "", None, ["scratch"])
    with pytest.raises(ConfigurationError, match="annotators_per_image"):
        job_spec("week-2", "", 0, ["scratch"])
