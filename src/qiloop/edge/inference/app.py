"""The device inference app: images in, results, status and feedback out through the durable outbox.

Lifecycle: :meth:`InferenceApp.from_config` does the I/O (verify and load the
model package, open the outbox, prepare the MQTT publisher, open the source);
:meth:`~InferenceApp.setup` starts the publisher and the status thread;
:meth:`~InferenceApp.run` inspects images until the source ends, a limit is
reached or the stop event is set; :meth:`~InferenceApp.teardown` (after the
current image is finished) publishes a final ``stopped`` status, gives the
outbox up to ``flush_timeout_s`` to drain, and closes everything. What is not
delivered stays in the outbox and leaves with the next start.

What one image yields (verdict, feedback, the messages) is decided by the pure
:func:`~qiloop.edge.inference.decision.decide`; the app does the I/O around it.
Every message is stored before it is sent. Results and feedback are stored
under an idempotency key (the image's name and sha256) in the same transaction,
so an image inspected again after a crash, before its file was moved, yields no
second result.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from qiloop.core.errors import ImageRejectedError
from qiloop.edge.inference.config import AppConfig
from qiloop.edge.inference.decision import Outgoing, Rules, decide
from qiloop.edge.inference.outbox import Outbox, OutboxFullError
from qiloop.edge.inference.sources import Frame, open_source
from qiloop.edge.inference.stats import RunningStats, Snapshot
from qiloop.protocol.messages import InferenceResult
from qiloop.protocol.topics import status_topic

log = logging.getLogger(__name__)


class InferenceApp:
    """Inspects the images of a source and reports them over MQTT.

    Args:
        config: The app configuration.
        detector: A ready :class:`~qiloop.edge.runtime.OnnxDetector` (or anything with its
            ``detect`` and ``manifest``).
        outbox: The open outbox.
        publisher: Drains the outbox (``start``, ``flush``, ``stop``), e.g. an
            :class:`~qiloop.edge.inference.MqttPublisher`.
        source: Where frames come from (``frames``, ``done``, ``reject``).
    """

    def __init__(self, config: AppConfig, *, detector, outbox: Outbox, publisher, source) -> None:
        self.config, self.detector, self.outbox, self.publisher, self.source = (
            config, detector, outbox, publisher, source
        )  # fmt: skip
        self.rules = Rules.of(config, detector.manifest)
        self.stats = RunningStats()
        self._status_stop = threading.Event()
        self._status_thread: threading.Thread | None = None
        self.flushed: bool | None = None  # set by teardown: did the outbox drain in time
        self.final_outbox = None  # set by teardown: the outbox's counters when it closed

    @classmethod
    def from_config(cls, config: AppConfig, *, outbox_path: Path | None = None) -> InferenceApp:
        """Load and verify the package, open the outbox, prepare the publisher and the source.

        Raises:
            NotFoundError: No package (or model file) at ``config.package``.
            InvalidRecordError: The package was altered (a sha256 differs) or does not load.
            ConfigurationError: No broker URL, or an outbox of another device.
        """
        from qiloop.core.errors import ConfigurationError
        from qiloop.edge.inference.publisher import MqttPublisher
        from qiloop.edge.runtime.detector import OnnxDetector

        if not config.broker:
            raise ConfigurationError("no MQTT broker configured", hint="pass --broker mqtt://HOST:PORT")
        path = outbox_path or config.outbox
        if path is None:
            raise ConfigurationError("no outbox file configured", hint="set outbox=PATH")
        # The graph optimised for this CPU lives beside the outbox (a folder the device writes) unless
        # configured elsewhere: the next start loads it instead of optimising the model again.
        detector = OnnxDetector.from_package(
            config.package, threads=config.threads, int8=config.int8, providers=config.providers,
            optimized_dir=config.optimized_dir or Path(path).parent / "optimized", draft_decode=config.draft_decode,
        )  # fmt: skip
        source = open_source(config.source)
        outbox = Outbox(path, device_id=config.device_id, max_bytes=config.max_outbox_bytes,
                        drop_policy=config.drop_policy)  # fmt: skip
        publisher = MqttPublisher.connect(
            config.broker, outbox, f"qiloop-{config.device_id}", max_inflight=config.max_inflight,
            backoff=(0.2, config.reconnect_max_s),
        )  # fmt: skip
        return cls(config, detector=detector, outbox=outbox, publisher=publisher, source=source)

    # -- lifecycle ---------------------------------------------------------------------------

    def setup(self) -> None:
        """Forget old idempotency keys, start the publisher and the periodic status."""
        self.outbox.prune_keys(self.config.key_retention_s)
        self.publisher.start()
        self._put_status("running")
        self._status_thread = threading.Thread(target=self._status_loop, name="qiloop-status", daemon=True)
        self._status_thread.start()

    def run(self, stop: threading.Event) -> Snapshot:
        """Inspect frames until the source ends, ``max_images`` or ``duration_s`` is reached, or ``stop`` is set.

        The frame in hand when ``stop`` is set is finished (stored and moved) first.
        """
        timer = None
        if self.config.duration_s is not None:
            timer = threading.Timer(self.config.duration_s, stop.set)
            timer.daemon = True
            timer.start()
        try:
            for frame in self.source.frames(stop):
                self.handle(frame)
                if self.config.max_images is not None and self.stats.taken >= self.config.max_images:
                    break
                if stop.is_set():
                    break
        finally:
            if timer is not None:
                timer.cancel()
        return self.stats.snapshot()

    def teardown(self) -> Snapshot:
        """Stop the status thread, store a final ``stopped`` status, flush, stop the publisher, close the outbox."""
        self._status_stop.set()
        if self._status_thread is not None:
            self._status_thread.join(5)
        self._put_status("stopped")
        self.flushed = self.publisher.flush(self.config.flush_timeout_s)
        if not self.flushed:
            log.warning("%d message(s) not yet delivered; they stay in the outbox for the next start",
                        self.outbox.depth())  # fmt: skip
        self.publisher.stop()
        snapshot = self.stats.snapshot()
        self.final_outbox = self.outbox.stats()
        self.outbox.close()
        return snapshot

    # -- one image ---------------------------------------------------------------------------

    def handle(self, frame: Frame) -> InferenceResult | None:
        """Inspect one frame: store its result (and feedback), then let the source keep/move/delete it."""
        if frame.error is not None:
            return self._reject(frame, frame.error)
        started = time.perf_counter()
        try:
            # Encoded bytes go to the detector as they are: it decodes large JPEGs at a reduced scale.
            image = frame.array if frame.array is not None else frame.data
            found = self.detector.detect(image, confidence=self.rules.detect_floor)
        except ImageRejectedError as exc:
            return self._reject(frame, exc.reason)
        latency_ms = (time.perf_counter() - started) * 1000
        decision = decide(self.rules, found, name=frame.name, data=frame.data, latency_ms=latency_ms,
                          now=datetime.now(timezone.utc))  # fmt: skip
        result, *feedback = decision.messages
        stored = self._put(result)
        sent = bool(feedback) and self._put(feedback[0]) is True
        self.source.done(frame)
        self.stats.record(latency_ms, defect=decision.defect, feedback=sent, duplicate=stored is None)
        return decision.result

    def _reject(self, frame: Frame, reason: str) -> None:
        self.source.reject(frame, reason)
        self.stats.reject()
        return None

    def _put(self, message: Outgoing) -> bool | None:
        """Store a keyed message: True stored, None already stored before (a redone image), False refused."""
        try:
            stored = self.outbox.put_once(message.key, message.topic, message.body, kind=message.kind)
        except OutboxFullError as exc:
            log.warning("%s", exc.message)
            return False
        return True if stored is not None else None

    # -- status ------------------------------------------------------------------------------

    def _put_status(self, state: str) -> None:
        m = self.detector.manifest
        status = self.stats.status(self.config.device_id, state, model_name=m.name, model_version=m.version,
                                   outbox=self.outbox.stats())  # fmt: skip
        try:
            self.outbox.put(status_topic(self.config.device_id), status.body(), kind="status")
        except OutboxFullError as exc:
            log.warning("%s", exc.message)

    def _status_loop(self) -> None:
        while not self._status_stop.wait(self.config.status_interval_s):
            self._put_status("running")


def stop_on_signals(stop: threading.Event) -> None:
    """Make SIGTERM and SIGINT set ``stop`` (call from the main thread); the app then stops cleanly."""

    def handler(signum, _frame) -> None:
        log.info("received %s; finishing the current image and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_until_stopped(config: AppConfig) -> dict:
    """Run the app on ``config`` until its source ends, SIGTERM or Ctrl-C; what it did, as a summary.

    The summary's ``flushed`` is false when messages still wait in the outbox (``outbox.depth`` of them)
    for the next start.
    """
    stop = threading.Event()
    stop_on_signals(stop)
    app = InferenceApp.from_config(config)
    app.setup()
    try:
        app.run(stop)
    finally:
        final = app.teardown()
    box = app.final_outbox
    return {
        "device_id": config.device_id,
        "model": f"{app.detector.manifest.name} v{app.detector.manifest.version}",
        "seconds": round(final.uptime_s, 2),
        "images_processed": final.images_processed,
        "images_rejected": final.images_rejected,
        "duplicates_skipped": final.duplicates,
        "defects": final.defects,
        "feedback_sent": final.feedback_sent,
        "latency_p50_ms": final.latency_p50_ms,
        "latency_p95_ms": final.latency_p95_ms,
        "outbox": {name: box.total(name) for name in ("enqueued", "delivered", "dropped", "refused")}
        | {"depth": box.depth},
        "flushed": app.flushed,
    }
