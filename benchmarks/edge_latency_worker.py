"""One latency configuration, run in its own process by ``bench_edge_latency.py``.

Reads a job file (implementation, precision, threads, model, images), pins
itself to ``threads`` cores, loads the model, runs ``warmup`` untimed images,
then prints one marked JSON line per timed image and a final one with the
timings, box counts, load time and memory. Every ONNX Runtime session the
configuration creates is wrapped in :class:`TimedSession`, so each image's
end-to-end time splits into the forward pass (``session.run``) and the rest
(decode, letterbox, post-processing, Python), measured on the same image in
the same call rather than in a separate loop. Importing this module loads nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

SQUARE = 448
MARKER = "@record "


def _emit(record: dict) -> None:
    """One line for the parent; ultralytics prints to stdout too, so records carry a marker."""
    print(MARKER + json.dumps(record), flush=True)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


class TimedSession:
    """An ONNX Runtime session whose ``run`` calls add their wall and process CPU time (ms) to its totals."""

    def __init__(self, session) -> None:
        self._session = session
        self.forward_ms = self.forward_cpu_ms = 0.0

    def run(self, *args, **kwargs):
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            return self._session.run(*args, **kwargs)
        finally:
            self.forward_ms += (time.perf_counter() - started) * 1e3
            self.forward_cpu_ms += (time.process_time() - cpu_started) * 1e3

    def __getattr__(self, name: str):
        return getattr(self._session, name)


SESSIONS: list[TimedSession] = []  # every session of this process, ours or ultralytics'


def forward_so_far() -> tuple[float, float]:
    """Wall and CPU milliseconds spent in ``session.run`` by every session so far."""
    return sum(s.forward_ms for s in SESSIONS), sum(s.forward_cpu_ms for s in SESSIONS)


def ours(job: dict):
    """qiloop's runtime: ``detect(jpeg_bytes)`` decodes with Pillow and returns Detections."""
    from qiloop.edge.runtime import OnnxDetector

    detector = OnnxDetector.from_package(
        job["model"], threads=job["threads"], int8=job["precision"] == "int8", draft_decode=True
    )  # as the inference app runs it
    detector.session = TimedSession(detector.session)
    SESSIONS.append(detector.session)
    return lambda data: len(detector.detect(data)), detector


def reference(job: dict):
    """The reference path: OpenCV decode (as ultralytics reads files), then ``YOLO(onnx).predict``."""
    from qiloop.training import ultralytics_adapter as adapter

    yolo = adapter.ultralytics()
    import cv2
    import numpy as np

    _limit_onnxruntime_threads(job["threads"])
    model = yolo.YOLO(job["model"], task="detect")

    def run(data: bytes) -> int:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        result = model.predict(image, imgsz=SQUARE, verbose=False, save=False)[0]
        return len(result.boxes.xyxy.cpu().numpy())

    return run, None


def _limit_onnxruntime_threads(threads: int) -> None:
    """Give the sessions ultralytics creates ``threads`` intra-op threads, as ours get.

    ultralytics builds its session without options, and ONNX Runtime's default
    pool then pins its workers to every physical core itself, overriding the
    process's affinity: pinning alone would let the "1 thread" reference run on
    two cores. Setting the count explicitly keeps its threads inside the pinning.
    """
    import onnxruntime

    original = onnxruntime.InferenceSession

    def session(path, sess_options=None, *args, **kwargs):
        options = sess_options or onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        SESSIONS.append(TimedSession(original(path, options, *args, **kwargs)))
        return SESSIONS[-1]

    onnxruntime.InferenceSession = session


def forward_only(detector, images: list[bytes]) -> list[float]:
    """ONNX Runtime's ``session.run`` alone on the letterboxed inputs (for the floor comparison)."""
    from qiloop.edge.runtime import letterbox

    tensors = [letterbox(data, detector.input_size)[0] for data in images]
    out = []
    for tensor in tensors:
        started = time.perf_counter()
        detector.forward(tensor)
        out.append((time.perf_counter() - started) * 1e3)
    return out


def main(job_file: str) -> None:
    job = json.loads(Path(job_file).read_text())
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: job["threads"]])
    images = [Path(p).read_bytes() for p in job["images"]]
    started = time.perf_counter()
    if job["impl"] == "ours+cv2":  # a device whose camera source has loaded OpenCV: the runtime resizes with it
        import cv2

        cv2.setNumThreads(job["threads"])
    run, detector = (ours if job["impl"].startswith("ours") else reference)(job)
    for data in images[: job["warmup"]]:
        run(data)
    load_s = time.perf_counter() - started
    timings, cpu, boxes, in_loop, in_loop_cpu = [], [], [], [], []
    for i, data in enumerate(images):
        wall_before, cpu_before = forward_so_far()
        started, cpu_started = time.perf_counter(), time.process_time()
        count = run(data)
        timings.append((time.perf_counter() - started) * 1e3)
        cpu.append((time.process_time() - cpu_started) * 1e3)
        wall_after, cpu_after = forward_so_far()
        in_loop.append(wall_after - wall_before)
        in_loop_cpu.append(cpu_after - cpu_before)
        boxes.append(count)
        _emit({"i": i, "ms": timings[-1]})
    forward = forward_only(detector, images) if detector is not None else []
    _emit({"ms": timings, "cpu_ms": cpu, "boxes": boxes, "forward_ms": forward, "in_loop_forward_ms": in_loop,
           "in_loop_forward_cpu_ms": in_loop_cpu, "load_s": load_s, "rss_mb": _rss_mb()})  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
