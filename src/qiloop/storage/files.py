"""Read a user's file safely: regular files only, size checked before reading.

A path from a label file or a folder walk may name anything: ``/dev/zero`` (an
endless stream), a FIFO (a read that blocks until some other process writes),
a socket, or a symlink to one of them. :func:`read_regular` reads only regular
files and never more than ``max_bytes``:

1. ``os.stat`` (following links) refuses anything that is not a regular file
   and any file larger than the limit before it is opened;
2. the file is opened with ``O_NONBLOCK``, so a FIFO swapped in between the
   stat and the open cannot block, and the open descriptor is checked again
   with ``fstat``;
3. at most ``max_bytes + 1`` bytes are read, so a file that grows while it is
   read is refused too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(OSError):
    """The path exists but is no regular file, or is too large; ``str(exc)`` says why.

    An ``OSError``, so code that already reports unreadable files reports these too.
    """


def describe(mode: int) -> str:
    """What kind of file ``st_mode`` names, in words (``"a FIFO (named pipe)"``)."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "a special file"


def _check(mode: int, size: int, max_bytes: int) -> None:
    if not stat.S_ISREG(mode):
        raise FileRefused(f"not a regular file but {describe(mode)}; only regular files are read")
    if size > max_bytes:
        raise FileRefused(f"{size:,} bytes is above the limit of {max_bytes:,} bytes")


def read_regular(path: str | Path, *, max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path`` (links followed), at most ``max_bytes``.

    Raises:
        FileRefused: The path is a folder, FIFO, device or socket, or larger than ``max_bytes``.
        OSError: The file does not exist or cannot be opened (``FileNotFoundError``,
            ``PermissionError``, ...), as ``open`` raises it.

    Example:
        >>> read_regular("/dev/zero", max_bytes=1024)  # doctest: +SKIP
        Traceback (most recent call last):
        FileRefused: not a regular file but a character device; only regular files are read
    """
    info = os.stat(path)
    _check(info.st_mode, info.st_size, max_bytes)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb", closefd=True) as fh:
        opened = os.fstat(fd)
        _check(opened.st_mode, opened.st_size, max_bytes)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileRefused(f"the file grew past the limit of {max_bytes:,} bytes while it was read")
    return data
