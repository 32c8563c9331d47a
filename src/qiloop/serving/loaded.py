"""One loaded model version: its manifest and a set of ready detectors, one per worker.

Each worker borrows a detector for one image and gives it back, so no two
threads ever share an ONNX Runtime session, and a model that was swapped out
keeps serving the requests that hold it until they finish.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from qiloop.core.package import ModelManifest
from qiloop.edge.runtime import OnnxDetector
from qiloop.serving.model_source import Release


@dataclass(eq=False)
class LoadedModel:
    """A release whose detectors have all passed their test inference.

    Attributes:
        release: Which version this is and where it came from.
        path: The package folder the detectors were loaded from.
        detectors: The sessions, one per worker thread.
    """

    release: Release
    path: Path
    detectors: list[OnnxDetector]
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        self._idle: queue.SimpleQueue[OnnxDetector] = queue.SimpleQueue()
        for detector in self.detectors:
            self._idle.put(detector)

    @classmethod
    def load(cls, release: Release, path: Path, *, sessions: int, threads: int, int8: bool) -> LoadedModel:
        """Build ``sessions`` detectors of the package at ``path``; each runs a test inference.

        Raises:
            NotFoundError, InvalidRecordError: The package is incomplete, altered, or its
                model does not load or contradicts its manifest.
        """
        detectors = [OnnxDetector.from_package(path, threads=threads, int8=int8) for _ in range(sessions)]
        return cls(release, Path(path), detectors)

    @property
    def manifest(self) -> ModelManifest:
        return self.detectors[0].manifest

    @property
    def name(self) -> str:
        return self.release.name

    @property
    def version(self) -> str:
        return self.release.version

    @contextmanager
    def detector(self) -> Iterator[OnnxDetector]:
        """Borrow an idle detector (waits while all are busy) and give it back afterwards."""
        detector = self._idle.get()
        try:
            yield detector
        finally:
            self._idle.put(detector)

    def summary(self) -> dict:
        """What ``GET /v1/model`` reports: identity, origin, input, classes, thresholds, lineage."""
        m = self.manifest
        return {
            "name": self.name,
            "version": self.version,
            "origin": self.release.origin,
            "package_version": m.version,
            "model_file": self.detectors[0].model_file,
            "sessions": len(self.detectors),
            "classes": list(m.classes),
            "input_width": m.input_width,
            "input_height": m.input_height,
            "thresholds": m.thresholds.model_dump(),
            "metrics": dict(m.metrics),
            "label_store_version": m.label_store_version,
            "git_commit": m.git_commit,
            "created_at": m.created_at.isoformat(),
            "loaded_at": self.loaded_at.isoformat(),
        }
