"""New files in a camera folder since a cursor, without opening any file."""

from __future__ import annotations

import os

from qiloop.storage.camera_folder import FolderCursor, new_files


def write(path, mtime_ns: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return str(path)


def test_files_after_the_cursor_oldest_first_even_in_the_same_clock_tick(tmp_path):
    a = write(tmp_path / "a.jpg", 1_000)
    b = write(tmp_path / "sub" / "b.jpg", 2_000)
    write(tmp_path / ".hidden.jpg", 3_000)
    write(tmp_path / "c.jpg.part", 3_000)
    first = new_files(tmp_path, FolderCursor())
    assert first.paths == (a, b) and first.cursor == FolderCursor(2_000, frozenset({b}))
    assert new_files(tmp_path, first.cursor).paths == ()

    c = write(tmp_path / "c.jpg", 2_000)  # written in the same clock tick as b, after the look
    second = new_files(tmp_path, first.cursor)
    assert second.paths == (c,) and second.cursor.names == {b, c}
    assert FolderCursor.from_json(second.cursor.to_json()) == second.cursor


def test_a_missing_folder_or_a_damaged_cursor_starts_from_nothing(tmp_path):
    assert new_files(tmp_path / "none", FolderCursor()).paths == ()
    assert FolderCursor.from_json("{not json") == FolderCursor()
    assert FolderCursor.from_json(None) == FolderCursor()
