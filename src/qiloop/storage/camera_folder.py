"""New files in a camera folder since a cursor: what the ingest trigger looks for on each tick.

A camera (or an uploader) drops image files into a folder, maybe in sub-folders.
A tick lists the folder's entries (``os.scandir``: names and modification times,
no file opened) and keeps those modified after the cursor. The cursor is the
newest modification time seen plus the names seen at exactly that time, so a file
written in the same clock tick as the last one seen is still found next time.
Hidden files and names ending in ``.part``, ``.tmp`` or ``.crdownload`` are being
written and wait for their final name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

PARTIAL = (".part", ".tmp", ".crdownload")


@dataclass(frozen=True)
class FolderCursor:
    """Where the last look stopped: the newest modification time and the files seen at that time."""

    mtime_ns: int = -1
    names: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> str:
        return json.dumps({"mtime_ns": self.mtime_ns, "names": sorted(self.names)})

    @classmethod
    def from_json(cls, text: str | None) -> FolderCursor:
        """The cursor ``to_json`` wrote; an empty or unreadable text starts from the beginning."""
        try:
            data = json.loads(text) if text else {}
            return cls(int(data.get("mtime_ns", -1)), frozenset(data.get("names", ())))
        except (ValueError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True)
class NewFiles:
    """Files modified after the cursor (oldest first), and the cursor after them."""

    paths: tuple[str, ...]
    cursor: FolderCursor


def new_files(folder: str | Path, cursor: FolderCursor) -> NewFiles:
    """Image files in ``folder`` (recursively) modified after ``cursor``, oldest first; none if it does not exist."""
    found: list[tuple[int, str]] = []
    stack = [Path(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(PARTIAL):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file():
                    mtime = entry.stat().st_mtime_ns
                    if mtime > cursor.mtime_ns or (mtime == cursor.mtime_ns and entry.path not in cursor.names):
                        found.append((mtime, entry.path))
            except FileNotFoundError:  # removed while listing
                continue
    if not found:
        return NewFiles((), cursor)
    found.sort()
    newest = found[-1][0]
    at_newest = {path for mtime, path in found if mtime == newest}
    if newest == cursor.mtime_ns:
        at_newest |= cursor.names
    return NewFiles(tuple(path for _, path in found), FolderCursor(newest, frozenset(at_newest)))
