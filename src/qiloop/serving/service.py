"""Inference behind the routes: admission, the worker threads, and one image's inspection.

Every image runs on a bounded pool of worker threads (one ONNX Runtime session
each), so decoding and inference never block the event loop; at most
``max_pending`` images are admitted at once, and the rest get 503 at once
instead of queueing without bound. What one image may cost is bounded too: its
header is read before admission (413 over the pixel limit), large images are
admitted only while fewer than ``max_large_images`` run (so they never hold
every worker and a normal image does not wait behind them), and a worker gives
the memory of a large image back when it is done with it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from qiloop.protocol.messages import DetectedBox
from qiloop.serving.errors import ImageTooLargeError, ServiceUnavailableError
from qiloop.serving.holder import ModelHolder
from qiloop.serving.loaded import LoadedModel
from qiloop.serving.memory import give_back
from qiloop.serving.metrics import ServingMetrics
from qiloop.serving.options import ServeOptions
from qiloop.serving.schemas import Detection, ImageSize
from qiloop.serving.uploads import check_size, decode_image, header_pixels


class InferenceService:
    """Runs detections for the routes on ``options.workers`` threads.

    Args:
        holder: Gives the current model; each image keeps the model it started with.
        options: Worker count, limits.
        metrics: Where verdicts are counted, if anywhere.
    """

    def __init__(self, holder: ModelHolder, options: ServeOptions, metrics: ServingMetrics | None = None) -> None:
        self.holder = holder
        self.options = options
        self.metrics = metrics
        self._pool: ThreadPoolExecutor | None = None
        self._pending = 0
        self._large = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="qiloop-infer")

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def model(self) -> LoadedModel:
        """The model new requests run on.

        Raises:
            ServiceUnavailableError: None is loaded yet.
        """
        current = self.holder.current
        if current is None:
            detail = f" (last error: {self.holder.last_error})" if self.holder.last_error else ""
            raise ServiceUnavailableError(
                f"no model is loaded yet{detail}",
                hint="wait until a version is approved and loaded; GET /healthz says when",
            )
        return current

    def screen(self, data: bytes, name: str) -> int:
        """An upload's pixel count from its header (0 when unreadable), checked against the limits.

        Raises:
            ImageRejectedError: The file is empty.
            ImageTooLargeError: Over the byte or the pixel limit (413), before anything is decoded.
        """
        check_size(data, name, self.options.max_image_bytes)
        return header_pixels(data, name, self.options.max_image_pixels)

    def is_large(self, pixels: int) -> bool:
        return pixels > self.options.large_image_pixels

    def admit(self, count: int, large: int = 0) -> None:
        """Reserve room for ``count`` images, ``large`` of them large, or refuse the request.

        Raises:
            ServiceUnavailableError: Admitting them would pass ``max_pending`` images, or
                ``max_large_images`` large ones, in progress.
            ImageTooLargeError: One request holds more large images than ever run at once.
        """
        if large > self.options.large_limit:  # waiting would not help
            raise ImageTooLargeError(
                "<batch>",
                f"{large} images of more than {self.options.large_image_pixels} pixels in one request, "
                f"more than the {self.options.large_limit} that run at once",
                hint="send large images in separate requests, or downscale them",
            )
        with self._lock:
            if self._pending + count > self.options.pending_limit:
                raise ServiceUnavailableError(
                    f"the server is busy ({self._pending} images in progress)", hint="retry in a moment"
                )
            if large and self._large + large > self.options.large_limit:
                raise ServiceUnavailableError(
                    f"the server is busy with large images ({self._large} in progress, at most "
                    f"{self.options.large_limit} at once)",
                    hint=f"retry in a moment, or send images of at most {self.options.large_image_pixels} pixels",
                )
            self._pending += count
            self._large += large

    def _release(self, large: bool) -> None:
        with self._lock:
            self._pending -= 1
            self._large -= large

    def submit(self, model: LoadedModel, data: bytes, name: str, confidence, iou, pixels: int = 0) -> asyncio.Future:
        """Queue one admitted image for a worker; its room is given back when the work ends.

        The room is freed by the worker, not by the request, so a client that hangs up
        does not let more work in while its image is still being inferred. ``pixels``
        is what :meth:`screen` answered; a large image's memory is given back after it.
        """
        large = self.is_large(pixels)
        if self._pool is None:
            self._release(large)
            failed = asyncio.get_running_loop().create_future()
            failed.set_exception(ServiceUnavailableError("the server is not running", hint="retry in a moment"))
            return failed
        future = self._pool.submit(self._work, model, data, name, confidence, iou, large)
        future.add_done_callback(lambda _: self._release(large))
        return asyncio.wrap_future(future)

    def _work(self, model: LoadedModel, data: bytes, name: str, confidence, iou, large: bool) -> Detection:
        try:
            return self.detect_now(model, data, name, confidence, iou)
        finally:
            if large:
                give_back()

    def detect_now(
        self, model: LoadedModel, data: bytes, name: str, confidence: float | None, iou: float | None
    ) -> Detection:
        """Inspect one encoded image in the calling thread: limits, decode, detect, verdict."""
        started = time.perf_counter()
        options, limits = self.options, model.manifest.thresholds
        check_size(data, name, options.max_image_bytes)
        rgb = decode_image(data, name, options.max_image_pixels)
        confidence = limits.confidence if confidence is None else confidence
        iou = limits.iou if iou is None else iou
        with model.detector() as detector:
            found = detector.detect(rgb, confidence=confidence, iou=iou)
        fail = bool(len(found)) and float(found.scores.max()) >= limits.defect
        if self.metrics is not None:
            self.metrics.images.labels("fail" if fail else "pass").inc()
        return Detection(
            model_name=model.name,
            model_version=model.version,
            image=ImageSize(name=name, width=rgb.shape[1], height=rgb.shape[0]),
            detections=DetectedBox.from_detections(found, model.manifest.classes),
            verdict="fail" if fail else "pass",
            defect_threshold=limits.defect,
            confidence=confidence,
            iou=iou,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
