"""The model being served, swapped for a newly approved one without dropping a request.

Requests read :attr:`ModelHolder.current` once and keep that reference, so a
swap is one attribute assignment: requests already running finish on the old
model, later ones get the new one, and the old model is freed when the last
request that holds it is done. A watcher thread asks the source every
``poll_s`` seconds which release should run; when it changes, the new package
is fetched, loaded and test-inferred *before* the swap. A release that fails
to load leaves the old model serving; it is logged, counted, and not retried
until the source names another release. When the source names no release at
all (every version rejected, registry unreachable), the last model keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time

from qiloop.serving.loaded import LoadedModel
from qiloop.serving.model_source import ModelSource
from qiloop.serving.options import ServeOptions

log = logging.getLogger("qiloop.serving")


class ModelHolder:
    """The current :class:`LoadedModel` behind a lock-free reference, and its watcher.

    Args:
        source: Where releases come from (a package folder or a registry reference).
        sessions: Detectors per loaded model (one per worker thread).
        threads: Intra-op threads of each session.
        int8: Load ``model.int8.onnx``.
        poll_s: Seconds between checks of the source; 0 disables the watcher.
    """

    def __init__(self, source: ModelSource, *, sessions: int, threads: int, int8: bool, poll_s: float) -> None:
        self.source = source
        self.sessions, self.threads, self.int8, self.poll_s = sessions, threads, int8, poll_s
        self.current: LoadedModel | None = None
        self.swaps = 0
        self.load_failures = 0
        self.poll_failures = 0
        self.last_error: str | None = None
        self._failed_key: str | None = None
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_options(cls, source: ModelSource, options: ServeOptions) -> ModelHolder:
        """A holder with one session per worker thread, as ``options`` say."""
        return cls(
            source,
            sessions=options.workers,
            threads=options.threads_per_session,
            int8=options.int8,
            poll_s=options.poll_s,
        )

    def refresh(self) -> bool:
        """Load the source's latest release if it differs from the current one; True when swapped.

        A package that cannot be fetched is tried again on the next call; one that was
        fetched but does not load is skipped until the source names another release.

        Raises:
            QiloopError: The source cannot be read, the package cannot be fetched, or it
                does not load; the current model stays in place.
        """
        with self._refresh_lock:
            try:
                release = self.source.latest()
            except Exception as exc:
                self.last_error = str(exc)  # what /healthz tells while no model is loaded
                raise
            current = self.current
            if release.key == self._failed_key:
                return False
            if current is not None and current.release.key == release.key:
                self.last_error = None  # the source answers again and nothing changed
                return False
            started = time.perf_counter()
            path = self.source.fetch(release)
            try:
                model = LoadedModel.load(release, path, sessions=self.sessions, threads=self.threads, int8=self.int8)
            except Exception as exc:
                self.load_failures += 1
                self._failed_key = release.key
                self.last_error = f"{release.name} v{release.version} does not load: {exc}"
                raise
            self.current = model  # the swap: one reference assignment
            self._failed_key = self.last_error = None
            self.swaps += current is not None
            was = f" (was v{current.version})" if current is not None else ""
            log.info(
                "serving %s v%s from %s%s, loaded in %.2f s",
                release.name, release.version, release.origin, was, time.perf_counter() - started,
            )  # fmt: skip
            return True

    def poll(self) -> None:
        """One watcher step: :meth:`refresh`, logging and counting a failure instead of raising."""
        loads_failed = self.load_failures
        try:
            self.refresh()
        except Exception as exc:
            if self.load_failures == loads_failed:
                self.poll_failures += 1
                self.last_error = str(exc)
            kept = f"; still serving v{self.current.version}" if self.current is not None else ""
            log.error("model update failed: %s%s", self.last_error, kept)

    def start(self) -> None:
        """Start the watcher thread (nothing to start when ``poll_s`` is 0)."""
        if self.poll_s <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="qiloop-model-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the watcher; a load in progress finishes first."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll()
