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
        max_image_pixels: Images with more pixels are refused with 413 from their header,
            before decoding (16 Mpx: a 12 MP camera frame fits; each decoded pixel costs
            about 20 bytes while the image is resized).
        max_batch_files: Most files one ``/v1/detect/batch`` request may carry.
        max_pending: Most images admitted at once (running or queued); more get 503.
        large_image_pixels: Images with more pixels count as large: at most
            ``max_large_images`` of them run at once, and each gives its memory back after.
        max_large_images: Large images admitted at once (default: half the workers, at
            least one), so they never hold every worker; more get 503 with Retry-After.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    worker_threads: int | None = Field(default=None, gt=0)
    session_threads: int | None = Field(default=None, gt=0)
    int8: bool = False
    poll_s: float = Field(default=10.0, ge=0)
    max_image_bytes: int = Field(default=20 * MB, gt=0)
    max_image_pixels: int = Field(default=16_000_000, gt=0)
    max_batch_files: int = Field(default=32, gt=0)
    max_pending: int | None = Field(default=None, gt=0)
    large_image_pixels: int = Field(default=4_000_000, gt=0)
    max_large_images: int | None = Field(default=None, gt=0)

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
    def large_limit(self) -> int:
        return self.max_large_images or max(1, self.workers // 2)

    @property
    def max_body_bytes(self) -> int:
        """Largest request body accepted at all: a full batch plus room for the multipart framing."""
        return self.max_image_bytes * self.max_batch_files + MB
