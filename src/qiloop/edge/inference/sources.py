"""Where images come from: a watched folder, a list of files, or an OpenCV capture.

Every source yields :class:`Frame` objects and is told afterwards what became of
each: :meth:`done` (inspected; the folder source keeps, moves or deletes the file)
or :meth:`reject` (unreadable; the folder source moves it to the rejected folder).
A file that cannot even be read arrives as a frame with an ``error``, so the app
counts and reports every rejection in one place. Sources wait with
``stop.wait``, so a stop request ends a wait at once.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qiloop.core.errors import NotFoundError, require
from qiloop.edge.inference.config import FilesSourceConfig, FolderSourceConfig, OpenCVSourceConfig, SourceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Frame:
    """One image to inspect.

    Attributes:
        name: The image's name in results (the file name, or a time-stamped frame name).
        data: The encoded image (hashed for ``image_sha256``, sent as feedback).
        key: Where it came from within the source (a path, or capture and frame number).
        array: The decoded ``HxWx3`` RGB image when the source already has it (a camera).
        path: The file, for file sources.
        error: Why the file could not be read; such a frame has no data and is rejected.
    """

    name: str
    data: bytes
    key: str
    array: np.ndarray | None = None
    path: Path | None = None
    error: str | None = None


def _unique(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists():
        target, n = folder / f"{stem}.{n}{suffix}", n + 1
    return target


class FolderSource:
    """Inspects the files that appear in a folder, in name order, once each is completely written.

    A file is ready when its size and modification time have not changed for
    ``settle_s`` seconds (a camera or a copy may still be writing it).
    """

    def __init__(self, config: FolderSourceConfig) -> None:
        self.config = config
        self.folder = Path(config.path)
        self.processed_dir = Path(config.processed_dir or self.folder / "processed")
        self.rejected_dir = Path(config.rejected_dir or self.folder / "rejected")
        self._observed: dict[Path, tuple[int, int, float]] = {}  # path -> (size, mtime_ns, since)
        self._kept: set[Path] = set()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        if not self.folder.is_dir():
            raise NotFoundError(f"the watched folder {self.folder} does not exist", hint="create it or fix --watch")
        while not stop.is_set():
            batch = self._ready()
            for path in batch:
                if stop.is_set():
                    return
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue  # taken away between the scan and now
                except OSError as exc:
                    yield Frame(path.name, b"", str(path), path=path, error=f"cannot read the file: {exc}")
                    continue
                yield Frame(path.name, data, str(path), path=path)
            if not batch:
                stop.wait(self.config.poll_s)

    def _ready(self) -> list[Path]:
        """The stable files of one scan, in name order."""
        now, ready, present = time.monotonic(), [], set()
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if not entry.is_file() or not any(fnmatch.fnmatchcase(entry.name, p) for p in self.config.patterns):
                    continue
                path = Path(entry.path)
                if path in self._kept:
                    continue
                present.add(path)
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                seen = self._observed.get(path)
                if seen is None or seen[:2] != (st.st_size, st.st_mtime_ns):
                    self._observed[path] = (st.st_size, st.st_mtime_ns, now)
                elif now - seen[2] >= self.config.settle_s:
                    ready.append(path)
        self._observed = {p: v for p, v in self._observed.items() if p in present}
        return sorted(ready, key=lambda p: p.name)

    def done(self, frame: Frame) -> None:
        """Keep, move or delete an inspected file, as configured."""
        path = frame.path
        self._observed.pop(path, None)
        try:
            if self.config.after == "move":
                self.processed_dir.mkdir(parents=True, exist_ok=True)
                shutil.move(path, _unique(self.processed_dir, path.name))
            elif self.config.after == "delete":
                path.unlink(missing_ok=True)
            else:
                self._kept.add(path)
        except OSError as exc:
            log.error(
                "cannot %s %s after inspecting it (%s); it stays and is not inspected again",
                self.config.after,
                path,
                exc,
            )
            self._kept.add(path)

    def reject(self, frame: Frame, reason: str) -> None:
        """Move an unreadable file to the rejected folder, so the next scan does not see it again."""
        path = frame.path
        self._observed.pop(path, None)
        log.warning("rejected %s: %s", path, reason)
        try:
            self.rejected_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(path, _unique(self.rejected_dir, path.name))
        except OSError as exc:
            log.error("cannot move the rejected file %s aside (%s); it is ignored from now on", path, exc)
            self._kept.add(path)


class FilesSource:
    """A fixed list of files, each inspected once, in the given order; the files are left where they are."""

    def __init__(self, config: FilesSourceConfig) -> None:
        self.paths = [Path(p) for p in config.paths]

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        for path in self.paths:
            if stop.is_set():
                return
            try:
                yield Frame(path.name, path.read_bytes(), str(path), path=path)
            except OSError as exc:
                yield Frame(path.name, b"", str(path), path=path, error=f"cannot read the file: {exc}")

    def done(self, frame: Frame) -> None:
        pass

    def reject(self, frame: Frame, reason: str) -> None:
        log.warning("rejected %s: %s", frame.path, reason)


class OpenCVSource:
    """Frames from an OpenCV capture: a camera index, a video file or a stream URL.

    Needs ``opencv-python-headless`` (``pip install 'qiloop[camera]'``).
    """

    def __init__(self, config: OpenCVSourceConfig) -> None:
        self.config = config
        self.cv2 = require("cv2", "camera")

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        cv2, device = self.cv2, self.config.device
        capture = cv2.VideoCapture(device)
        if not capture.isOpened():
            raise NotFoundError(f"OpenCV cannot open the capture {device!r}", hint="check the camera index or URL")
        period = 1 / self.config.fps if self.config.fps else 0.0
        started, n = datetime.now(timezone.utc), 0
        next_at = time.monotonic()
        try:
            while not stop.is_set() and (self.config.max_frames is None or n < self.config.max_frames):
                ok, bgr = capture.read()
                if not ok:
                    log.info("the capture %r ended after %d frames", device, n)
                    return
                if period and stop.wait(max(0.0, next_at - time.monotonic())):
                    return
                next_at += period
                encoded_ok, jpeg = cv2.imencode(".jpg", bgr)
                if not encoded_ok:
                    continue
                n += 1
                name = f"frame-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{n:06d}.jpg"
                yield Frame(name, jpeg.tobytes(), f"opencv:{device}:{started:%Y%m%dT%H%M%S}:{n}",
                            array=np.ascontiguousarray(bgr[..., ::-1]))  # fmt: skip
        finally:
            capture.release()

    def done(self, frame: Frame) -> None:
        pass

    def reject(self, frame: Frame, reason: str) -> None:
        log.warning("rejected frame %s: %s", frame.name, reason)


def open_source(config: SourceConfig) -> FolderSource | FilesSource | OpenCVSource:
    """The source a configuration describes."""
    kinds = {"folder": FolderSource, "files": FilesSource, "opencv": OpenCVSource}
    return kinds[config.type](config)
