"""The inference app's loop: frames in, results, feedback and status out through a real outbox.

The app's collaborators are small stand-ins that obey their interfaces: a detector
whose one box scores the image's grey level (so a test picks each image's score by
its pixels), an in-memory source that records what the app did with each frame, and
a publisher that delivers what the outbox holds when flushed. The outbox is the real
one, an SQLite file in ``tmp_path``; the images are real PNG bytes the detector decodes
(the app hands encoded frames over as they are, as to the real detector).
"""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from qiloop.core.detections import Detections
from qiloop.core.package import ModelManifest, PackageFile, Thresholds
from qiloop.edge.inference.app import InferenceApp
from qiloop.edge.inference.config import AppConfig
from qiloop.edge.inference.outbox import Outbox
from qiloop.edge.inference.sources import Frame
from qiloop.edge.runtime.preprocess import as_rgb_array
from qiloop.protocol.messages import parse_message

MANIFEST = ModelManifest(
    name="detector", version="7", classes=["scratch"], input_width=16, input_height=16,
    thresholds=Thresholds(confidence=0.4, defect=0.5), files={"model.onnx": PackageFile(sha256="0" * 64, size=1)},
)  # fmt: skip


class GreyDetector:
    """One box per image, scored by its top-left grey level / 255, returned when it reaches ``confidence``."""

    manifest = MANIFEST

    def __init__(self) -> None:
        self.asked: list[float | None] = []

    def detect(self, image, *, confidence: float | None = None, **_) -> Detections:
        image = as_rgb_array(image)  # raises ImageRejectedError for unreadable bytes, as the real one does
        self.asked.append(confidence)
        found = Detections(np.array([[2.0, 2.0, 8.0, 8.0]]), [float(image[0, 0, 0]) / 255], [0])
        return found.above(self.manifest.thresholds.confidence if confidence is None else confidence)


class MemorySource:
    """Frames from a list; records what was done with each, and can set ``stop`` as it hands one out."""

    def __init__(self, frames: list[Frame], *, stop_at: str | None = None) -> None:
        self.items, self.stop_at = frames, stop_at
        self.taken: list[str] = []
        self.done_names: list[str] = []
        self.rejected: list[tuple[str, str]] = []

    def frames(self, stop: threading.Event):
        for frame in self.items:
            if stop.is_set():
                return
            self.taken.append(frame.name)
            if frame.name == self.stop_at:
                stop.set()
            yield frame

    def done(self, frame: Frame) -> None:
        self.done_names.append(frame.name)

    def reject(self, frame: Frame, reason: str) -> None:
        self.rejected.append((frame.name, reason))


class Drain:
    """The publisher's interface: on flush, every queued message is delivered (kept here) and acknowledged."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox, self.delivered, self.running = outbox, [], False

    def start(self) -> Drain:
        self.running = True
        return self

    def flush(self, timeout: float) -> bool:
        for message in self.outbox.pending(1000):
            self.delivered.append(parse_message(message.payload))
            self.outbox.ack(message.sequence)
        return True

    def stop(self) -> None:
        self.running = False


def png(grey: int, *, noise: int = 0) -> bytes:
    """A PNG whose top-left pixel is ``grey``; ``noise`` > 0 makes a ``noise``-pixel square of random bytes."""
    pixels = np.full((16, 16, 3), grey, np.uint8)
    if noise:
        pixels = np.random.default_rng(0).integers(0, 256, (noise, noise, 3), dtype=np.uint8)
        pixels[0, 0] = grey
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def frame(name: str, grey: int | None = None, **fields) -> Frame:
    data = png(grey) if grey is not None else fields.pop("data", b"")
    return Frame(name, data, key=name, **fields)


def _app(tmp_path, frames, *, stop_at=None, **config):
    config = AppConfig(package=tmp_path, device_id="cam-1", source={"type": "files", "paths": [tmp_path]},
                       status_interval_s=3600, **config)  # fmt: skip
    outbox = Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", max_bytes=config.max_outbox_bytes)
    publisher, source, detector = Drain(outbox), MemorySource(frames, stop_at=stop_at), GreyDetector()
    app = InferenceApp(config, detector=detector, outbox=outbox, publisher=publisher, source=source)
    return app, publisher, source, detector


def _run(app) -> tuple:
    app.setup()
    try:
        during = app.run(threading.Event())
    finally:
        final = app.teardown()
    return during, final


def test_each_frame_is_inspected_once_and_reported_through_the_outbox(tmp_path):
    frames = [
        frame("defect.png", 230),  # 0.90: a defect
        frame("clean.png", 20),  # 0.08: below what the detector is asked for
        frame("unsure.png", 90),  # 0.35: below the confidence 0.4, inside the uncertain band
        frame("broken.png", data=b"not an image"),
        frame("unreadable.png", error="Permission denied"),
        frame("defect.png", 230),  # the same image again, as after a crash before it was moved
    ]
    app, publisher, source, detector = _app(tmp_path, frames)
    during, final = _run(app)

    assert source.taken == [f.name for f in frames]
    assert source.done_names == ["defect.png", "clean.png", "unsure.png", "defect.png"]
    assert [name for name, _ in source.rejected] == ["broken.png", "unreadable.png"]
    assert source.rejected[1][1] == "Permission denied"
    assert detector.asked == [0.25] * 4  # down to the feedback band's low end, below the confidence
    assert (final.images_processed, final.images_rejected, final.defects, final.duplicates) == (4, 2, 2, 1)
    assert final.feedback_sent == 1 and during.images_processed == 4

    kinds = [(m.kind, getattr(m, "image_name", getattr(m, "state", None))) for m in publisher.delivered]
    assert kinds == [("status", "running"), ("result", "defect.png"), ("result", "clean.png"),
                     ("result", "unsure.png"), ("feedback", "unsure.png"), ("status", "stopped")]  # fmt: skip
    results = {m.image_name: m for m in publisher.delivered if m.kind == "result"}
    assert {n: r.verdict for n, r in results.items()} == {
        "defect.png": "fail",
        "clean.png": "pass",
        "unsure.png": "pass",
    }
    assert [d.score for d in results["defect.png"].detections] == [pytest.approx(230 / 255, abs=1e-5)]
    assert results["unsure.png"].detections == []  # below the confidence: not in the result ...
    feedback = next(m for m in publisher.delivered if m.kind == "feedback")
    assert feedback.reason == "uncertain" and feedback.image_bytes() == png(90)
    assert [p.score for p in feedback.prelabels] == [pytest.approx(90 / 255, abs=1e-5)]  # ... but a pre-label
    assert publisher.delivered[-1].images_processed == 4 and publisher.delivered[-1].images_rejected == 2
    assert app.flushed is True and app.final_outbox.depth == 0 and not publisher.running

    reopened = Outbox(tmp_path / "outbox.sqlite", device_id="cam-1", max_bytes=1 << 20)
    try:
        assert reopened.depth() == 0 and reopened.stats().counts["result"]["delivered"] == 3
    finally:
        reopened.close()


def test_the_frame_in_hand_when_stop_is_set_is_finished_and_the_rest_stay(tmp_path):
    frames = [frame("a.png", 230), frame("b.png", 230), frame("c.png", 230)]
    app, publisher, source, _ = _app(tmp_path, frames, stop_at="b.png")
    _, final = _run(app)
    assert source.taken == ["a.png", "b.png"] and source.done_names == ["a.png", "b.png"]
    assert [m.image_name for m in publisher.delivered if m.kind == "result"] == ["a.png", "b.png"]
    assert final.images_processed == 2


def test_max_images_counts_rejected_frames_too(tmp_path):
    frames = [frame("bad.png", data=b"x"), frame("a.png", 230), frame("b.png", 230)]
    app, _, source, _ = _app(tmp_path, frames, max_images=2)
    _, final = _run(app)
    assert source.taken == ["bad.png", "a.png"]
    assert (final.images_processed, final.images_rejected) == (1, 1)


def test_a_full_outbox_refuses_feedback_but_the_frame_is_still_finished(tmp_path):
    big = png(90, noise=64)  # about 12 KB: its feedback cannot fit the 4 KB budget, its result can
    frames = [Frame("unsure.png", big, key="unsure.png")]
    app, publisher, source, _ = _app(tmp_path, frames, max_outbox_bytes=4096, drop_policy="newest")
    _, final = _run(app)
    assert source.done_names == ["unsure.png"]
    assert final.feedback_sent == 0
    assert [m.kind for m in publisher.delivered if m.kind != "status"] == ["result"]
    assert app.final_outbox.counts["feedback"]["refused"] == 1
