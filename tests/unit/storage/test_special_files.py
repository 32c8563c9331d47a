"""Only regular files are read: FIFOs, devices and links to them are refused, never read or waited on.

Each test uses the real thing (``os.mkfifo``, ``/dev/zero``); a regression hangs
or reads without end, so each carries a short timeout that turns it into a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qiloop.storage.files import FileRefused, read_regular
from qiloop.storage.image_store import ImageStore
from qiloop.storage.probe import max_image_bytes

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs a POSIX system"),
]


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "frame.jpg"  # a name that promises an image
    os.mkfifo(path)
    return path


@pytest.fixture
def zero_link(tmp_path) -> Path:
    path = tmp_path / "zero.png"
    path.symlink_to("/dev/zero")
    return path


def test_read_regular_reads_a_regular_file_and_a_link_to_one(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    (tmp_path / "link.bin").symlink_to(tmp_path / "a.bin")
    assert read_regular(tmp_path / "a.bin", max_bytes=3) == b"abc"
    assert read_regular(tmp_path / "link.bin", max_bytes=3) == b"abc"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp, fifo, zero: fifo, "a FIFO"),
        (lambda tmp, fifo, zero: Path("/dev/zero"), "a character device"),
        (lambda tmp, fifo, zero: zero, "a character device"),
        (lambda tmp, fifo, zero: tmp, "a folder"),
    ],
)
def test_read_regular_refuses_special_files(tmp_path, fifo, zero_link, make, kind):
    with pytest.raises(FileRefused, match=f"not a regular file but {kind}"):
        read_regular(make(tmp_path, fifo, zero_link), max_bytes=1 << 20)


def test_read_regular_checks_the_size_before_reading(tmp_path):
    (tmp_path / "big.bin").write_bytes(b"x" * 101)
    with pytest.raises(FileRefused, match="101 bytes is above the limit of 100 bytes"):
        read_regular(tmp_path / "big.bin", max_bytes=100)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing.bin", max_bytes=100)


def test_ingest_of_a_folder_with_a_fifo_and_a_device_link_refuses_them_and_goes_on(tmp_path, images, fifo, zero_link):
    (tmp_path / "good.png").write_bytes(images.png(seed=7))
    store = ImageStore.from_url(str(tmp_path.parent / f"{tmp_path.name}-store"))
    report = store.ingest([tmp_path], progress=False)
    assert [r.original_name for r in report.added] == ["good.png"]
    reasons = {Path(e.path).name: e.reason for e in report.rejected}
    assert "FIFO" in reasons["frame.jpg"]
    assert "character device" in reasons["zero.png"]
    assert set(reasons) == {"frame.jpg", "zero.png"}


def test_ingest_of_a_special_file_named_explicitly_says_why(tmp_path, fifo):
    store = ImageStore.from_url(str(tmp_path / "store"))
    report = store.ingest([fifo, Path("/dev/zero")], progress=False)
    assert not report.added
    assert [e.reason.split(";")[0] for e in report.rejected] == [
        "not a regular file but a FIFO (named pipe)",
        "not a regular file but a character device",
    ]


def test_an_image_file_larger_than_any_image_within_the_pixel_limit_is_refused_unread(tmp_path):
    store = ImageStore.from_url(str(tmp_path / "store"), max_pixels=100)
    big = tmp_path / "big.bmp"
    with big.open("wb") as fh:
        fh.truncate(max_image_bytes(100) + 1)  # sparse: no disk used, and never read
    report = store.ingest([big], progress=False)
    assert "above the limit" in report.rejected[0].reason
