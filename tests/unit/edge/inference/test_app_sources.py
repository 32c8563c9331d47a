"""Image sources: a watched folder (stable files, name order, keep/move/delete, rejects), files, OpenCV."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qiloop.core.errors import NotFoundError
from qiloop.edge.inference.config import FilesSourceConfig, FolderSourceConfig, OpenCVSourceConfig
from qiloop.edge.inference.sources import FilesSource, FolderSource, OpenCVSource, open_source


def _jpeg(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 12, 3), seed * 20 % 255, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _take(source, n: int, timeout: float = 5.0) -> list:
    """The first ``n`` frames, handing each back as done; stops the source afterwards."""
    stop, out = threading.Event(), []
    timer = threading.Timer(timeout, stop.set)
    timer.start()
    try:
        for frame in source.frames(stop):
            out.append(frame)
            source.done(frame)
            if len(out) == n:
                break
    finally:
        timer.cancel()
    return out


def _folder(tmp_path: Path, **kw) -> FolderSource:
    (tmp_path / "in").mkdir(exist_ok=True)
    return FolderSource(FolderSourceConfig(path=tmp_path / "in", poll_s=0.02, settle_s=0.05, **kw))


def test_files_are_taken_in_name_order_and_moved(tmp_path):
    source = _folder(tmp_path)
    for name in ["c.jpg", "a.jpg", "b.png", "notes.txt"]:
        (tmp_path / "in" / name).write_bytes(_jpeg())
    frames = _take(source, 3)
    assert [f.name for f in frames] == ["a.jpg", "b.png", "c.jpg"]  # notes.txt matches no pattern
    assert frames[0].data == _jpeg() and frames[0].key == str(tmp_path / "in" / "a.jpg")
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["notes.txt", "processed"]
    assert sorted(p.name for p in (tmp_path / "in" / "processed").iterdir()) == ["a.jpg", "b.png", "c.jpg"]


def test_a_file_still_growing_waits_until_its_size_is_stable(tmp_path):
    source = _folder(tmp_path)
    path = tmp_path / "in" / "x.jpg"
    data = _jpeg()
    path.write_bytes(data[:10])
    assert source._ready() == []  # first sight
    time.sleep(0.06)
    with path.open("ab") as f:
        f.write(data[10:20])
    assert source._ready() == []  # changed since: the clock restarts
    with path.open("ab") as f:
        f.write(data[20:])
    source._ready()
    time.sleep(0.06)
    assert source._ready() == [path]


@pytest.mark.parametrize("after", ["keep", "delete"])
def test_keep_and_delete(tmp_path, after):
    source = _folder(tmp_path, after=after)
    (tmp_path / "in" / "a.jpg").write_bytes(_jpeg())
    assert [f.name for f in _take(source, 1)] == ["a.jpg"]
    assert (tmp_path / "in" / "a.jpg").exists() == (after == "keep")
    (tmp_path / "in" / "b.jpg").write_bytes(_jpeg(1))
    assert [f.name for f in _take(source, 1)] == ["b.jpg"]  # a kept file is not taken twice


def test_a_name_taken_in_the_processed_folder_gets_a_suffix(tmp_path):
    source = _folder(tmp_path, processed_dir=tmp_path / "done")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "a.jpg").write_bytes(b"older")
    (tmp_path / "in" / "a.jpg").write_bytes(_jpeg())
    _take(source, 1)
    assert (tmp_path / "done" / "a.jpg").read_bytes() == b"older"
    assert (tmp_path / "done" / "a.1.jpg").read_bytes() == _jpeg()


def test_reject_moves_the_file_aside(tmp_path):
    source = _folder(tmp_path, rejected_dir=tmp_path / "bad")
    (tmp_path / "in" / "a.jpg").write_bytes(b"garbage")
    stop = threading.Event()
    frame = next(source.frames(stop))
    source.reject(frame, "not an image")
    assert not (tmp_path / "in" / "a.jpg").exists() and (tmp_path / "bad" / "a.jpg").read_bytes() == b"garbage"


def test_a_wait_ends_when_stop_is_set(tmp_path):
    source = FolderSource(FolderSourceConfig(path=tmp_path, poll_s=30))
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    assert list(source.frames(stop)) == []
    assert time.monotonic() - started < 2


def test_a_missing_folder_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        next(FolderSource(FolderSourceConfig(path=tmp_path / "nope")).frames(threading.Event()))


def test_files_source_reports_unreadable_files_as_frames_with_an_error(tmp_path):
    (tmp_path / "a.jpg").write_bytes(_jpeg())
    source = open_source(FilesSourceConfig(paths=[tmp_path / "a.jpg", tmp_path / "missing.jpg"]))
    assert isinstance(source, FilesSource)
    frames = list(source.frames(threading.Event()))
    assert [(f.name, f.error is None) for f in frames] == [("a.jpg", True), ("missing.jpg", False)]
    assert "cannot read" in frames[1].error and (tmp_path / "a.jpg").exists()


def test_opencv_reads_a_video_file(tmp_path):
    cv2 = pytest.importorskip("cv2", reason="the camera extra is not installed")
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(6):
        frame = np.zeros((24, 32, 3), np.uint8)
        frame[..., 2] = 200  # red in BGR
        frame[0, 0, 0] = i
        writer.write(frame)
    writer.release()
    source = OpenCVSource(OpenCVSourceConfig(device=str(video), max_frames=4))
    frames = list(source.frames(threading.Event()))
    assert len(frames) == 4 and len({f.name for f in frames}) == 4 and len({f.key for f in frames}) == 4
    assert frames[0].array.shape == (24, 32, 3) and frames[0].array[..., 0].mean() > 150  # converted to RGB
    assert Image.open(io.BytesIO(frames[0].data)).size == (32, 24)  # JPEG bytes for hashing and feedback


def test_opencv_missing_is_a_clear_error(tmp_path):
    code = (
        "import sys; sys.modules['cv2'] = None\n"
        "from qiloop.core.errors import MissingDependencyError\n"
        "from qiloop.edge.inference.config import OpenCVSourceConfig\n"
        "from qiloop.edge.inference.sources import OpenCVSource\n"
        "try:\n    OpenCVSource(OpenCVSourceConfig())\nexcept MissingDependencyError as e:\n    print(e.hint)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "qiloop[camera]" in out


def test_opencv_cannot_open_a_capture(tmp_path):
    pytest.importorskip("cv2", reason="the camera extra is not installed")
    source = OpenCVSource(OpenCVSourceConfig(device=str(tmp_path / "none.avi")))
    with pytest.raises(NotFoundError, match="cannot open"):
        next(source.frames(threading.Event()))
