"""How the endpoint runs: workers, sessions, limits and the registry poll, as one validated object.

The CLI builds it from its flags; tests and the benchmark build it directly.
Nothing here is read from the environment at import time.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

MB = 1 << 20


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class ServeOptions(BaseModel):
    """Settings of one endpoint process.

    Args:
        worker_threads: Inference threads, each with its own ONNX Runtime session
            (default: one per core).
        session_threads: Intra-op threads of each session (default: the cores
            shared out between the workers, at least one).
        int8: Serve the package's ``model.int8.onnx`` instead of ``model.onnx``.
        poll_s: Seconds between registry checks for a new version; 0 never checks.
        max_image_bytes: Larger uploads are refused with 413 before decoding.
        max_image_pixels: Images with more pixels are refused with 413 (decompression bombs).
        max_batch_files: Most files one ``/v1/detect/batch`` request may carry.
        max_pending: Most images admitted at once (running or queued); more get 503.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    worker_threads: int | None = Field(default=None, gt=0)
    session_threads: int | None = Field(default=None, gt=0)
    int8: bool = False
    poll_s: float = Field(default=10.0, ge=0)
    max_image_bytes: int = Field(default=20 * MB, gt=0)
    max_image_pixels: int = Field(default=64_000_000, gt=0)
    max_batch_files: int = Field(default=32, gt=0)
    max_pending: int | None = Field(default=None, gt=0)

    @property
    def workers(self) -> int:
        return self.worker_threads or available_cores()

    @property
    def threads_per_session(self) -> int:
        return self.session_threads or max(1, available_cores() // self.workers)

    @property
    def pending_limit(self) -> int:
        return self.max_pending or max(64, 16 * self.workers)

    @property
    def max_body_bytes(self) -> int:
        """Largest request body accepted at all: a full batch plus room for the multipart framing."""
        return self.max_image_bytes * self.max_batch_files + MB
