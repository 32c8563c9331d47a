"""Archives the nucleus refuses, and the one it unpacks."""

from __future__ import annotations

import stat
import zipfile
from contextlib import nullcontext

import pytest

from qiloop.core.errors import InvalidRecordError
from qiloop.edge.agent.unpack import UnpackLimits, UnsafeArchiveError, safe_member_path, unpack_zip


def _zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


REG = stat.S_IFREG | 0o644


def test_entries_without_a_recorded_file_type_are_plain_files(tmp_path):
    archive = _zip(tmp_path / "a.zip", [("a.py", b"x", 0o644), ("b.py", b"y", 0)])
    assert unpack_zip(archive, tmp_path / "out") == 2


def test_the_real_inference_code_archive_unpacks(tmp_path):
    from qiloop.fleet.packaging import source_archive

    (tmp_path / "code.zip").write_bytes(source_archive())
    assert unpack_zip(tmp_path / "code.zip", tmp_path / "out") > 50
    assert (tmp_path / "out" / "qiloop" / "edge" / "inference" / "__main__.py").is_file()  # the device entry point


def test_a_clean_archive_unpacks_into_a_new_folder(tmp_path):
    archive = _zip(tmp_path / "a.zip", [("qiloop/__init__.py", b"", REG), ("qiloop/edge/app.py", b"x = 1\n", REG)])
    assert unpack_zip(archive, tmp_path / "out") == 2
    assert (tmp_path / "out" / "qiloop" / "edge" / "app.py").read_bytes() == b"x = 1\n"
    with pytest.raises(FileExistsError):
        unpack_zip(archive, tmp_path / "out")  # never into an existing folder


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([("../evil.py", b"x", REG)], r"climbs out"),
        ([("a/../../evil.py", b"x", REG)], r"climbs out"),
        ([("/etc/passwd", b"x", REG)], "absolute"),
        ([("C:/evil", b"x", REG)], "absolute"),
        ([("a\\..\\evil", b"x", REG)], "backslash"),
        ([("link", b"/etc/passwd", stat.S_IFLNK | 0o777)], "link"),
        ([("fifo", b"", stat.S_IFIFO | 0o644)], "link or special"),
        ([("a.py", b"1", REG), ("a.py", b"2", REG)], "collides"),
    ],
)
def test_unsafe_entries_are_refused_and_leave_nothing(tmp_path, entries, match):
    with pytest.warns(UserWarning) if len({e[0] for e in entries}) < len(entries) else nullcontext():
        archive = _zip(tmp_path / "bad.zip", entries)
    with pytest.raises(UnsafeArchiveError, match=match):
        unpack_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.py").exists()


def test_a_zip_bomb_is_refused(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", [("zeros", b"\0" * (20 << 20), REG)])
    assert archive.stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match="bomb"):
        unpack_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_entry_count_and_total_size_limits(tmp_path):
    many = _zip(tmp_path / "many.zip", [(f"f{i}", b"x", REG) for i in range(11)])
    with pytest.raises(UnsafeArchiveError, match="11 entries"):
        unpack_zip(many, tmp_path / "o1", UnpackLimits(max_entries=10))
    big = _zip(tmp_path / "big.zip", [("a", bytes(range(256)) * 8, REG)])
    with pytest.raises(UnsafeArchiveError, match="beyond 1000 bytes"):
        unpack_zip(big, tmp_path / "o2", UnpackLimits(max_total_bytes=1000))


def test_not_a_zip(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(InvalidRecordError, match="not a zip"):
        unpack_zip(tmp_path / "x.zip", tmp_path / "out")


@pytest.mark.parametrize("name", ["", "/", "a\x00b"])
def test_member_names_without_a_path_are_refused(name):
    with pytest.raises(UnsafeArchiveError):
        safe_member_path(name)
