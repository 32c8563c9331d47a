"""Where an ingest run's files come from, and how they are worked through.

Folders are walked recursively; every file is offered to the store (its name
says nothing about its content), except hidden entries (names starting with a
dot, e.g. ``.DS_Store``), which a folder walk skips. A path given explicitly is
always offered. Only regular files are read (see :mod:`qiloop.storage.files`):
a FIFO, a device or a link to one is refused with its reason, never read.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from qiloop.core.errors import ImageRejectedError
from qiloop.storage.files import FileRefused, read_regular

T = TypeVar("T")
R = TypeVar("R")


def walk(paths: Iterable[str | Path]) -> Iterator[Path | ImageRejectedError]:
    """Files under ``paths`` in a stable order; a path that does not exist yields an error instead."""
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(folder) / name
        elif path.exists():
            yield path  # a special file too: read_file says why it is refused
        else:
            yield ImageRejectedError(str(path), "no such file or folder", hint="check the path")


def read_file(path: Path, max_bytes: int) -> bytes:
    """The regular file's bytes, or an :class:`ImageRejectedError` saying why they cannot be read."""
    try:
        return read_regular(path, max_bytes=max_bytes)
    except FileRefused as exc:
        raise ImageRejectedError(str(path), str(exc), hint="give the path of an image file") from None
    except OSError as exc:
        raise ImageRejectedError(str(path), f"cannot read the file: {exc.strerror or exc}") from None


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, window: int = 64) -> Iterator[Future[R]]:
    """Run ``fn`` over ``items`` on ``workers`` threads; yield finished futures in input order.

    At most ``window`` items are in flight, so a folder of 10^6 files does not become
    10^6 pending futures. Hashing, JPEG/PNG decoding and file I/O release the GIL,
    so threads overlap them.
    """
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="qiloop-ingest") as pool:
        queue: deque[Future[R]] = deque()
        for item in items:
            queue.append(pool.submit(fn, item))
            if len(queue) >= window:
                yield _finished(queue.popleft())
        while queue:
            yield _finished(queue.popleft())


def _finished(future: Future[R]) -> Future[R]:
    future.exception()  # waits; the caller's .result() then raises or returns at once
    return future


@contextmanager
def progress_bar(total: int, enabled: bool, description: str = "ingesting images"):
    """A rich progress bar on stderr (a no-op callable when ``enabled`` is False)."""
    if not enabled:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
