"""Use case: what the devices sent back — inspection results and feedback images — since a moment.

The collector (``qiloop fleet serve``, or a collector in the same process) stores
each result once in the results database and puts each feedback image into the
image store's feedback area with its model's boxes. This step reads both: counts
per device and model version, verdicts and latency, feedback by reason, and how
many feedback images still wait for an approved label (the next labelling job).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Collected:
    """Results and feedback received since ``since`` (all when None)."""

    since: datetime | None
    results: int
    failed: int  # results whose verdict is "fail"
    by_device: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)  # "name/version" → results
    mean_latency_ms: float = 0.0
    feedback: int = 0
    feedback_by_reason: dict[str, int] = field(default_factory=dict)
    feedback_waiting: int = 0  # feedback images without an approved label

    @property
    def fail_rate(self) -> float:
        return self.failed / self.results if self.results else 0.0

    def metadata(self) -> dict[str, float]:
        return {
            "results": self.results,
            "failed": self.failed,
            "fail_rate": round(self.fail_rate, 4),
            "mean_latency_ms": round(self.mean_latency_ms, 2),
            "feedback": self.feedback,
            "feedback_waiting": self.feedback_waiting,
        }


def collect_results(
    results_db, images, labels=None, *, since: datetime | None = None, device: str | None = None
) -> Collected:
    """Sum up the results and feedback the collector stored since ``since``.

    Args:
        results_db: The :class:`qiloop.fleet.results_db.ResultsDB`.
        images: The image store (its feedback area).
        labels: The label store, to count feedback images still without an approved label.
        device: Only this device.
    """
    stored = [r for r in results_db.results(device=device, limit=0) if since is None or r.received_at >= since]
    by_device: dict[str, int] = {}
    by_model: dict[str, int] = {}
    for r in stored:
        by_device[r.message.device_id] = by_device.get(r.message.device_id, 0) + 1
        model = f"{r.message.model_name}/{r.message.model_version}"
        by_model[model] = by_model.get(model, 0) + 1
    entries = [e for e in images.feedback.list(device) if since is None or e.received_at >= since]
    reasons: dict[str, int] = {}
    for e in entries:
        reasons[e.reason] = reasons.get(e.reason, 0) + 1
    labelled = labels.labeled_sha256s() if labels is not None else set()
    return Collected(
        since=since,
        results=len(stored),
        failed=sum(1 for r in stored if r.message.verdict == "fail"),
        by_device=by_device,
        by_model=by_model,
        mean_latency_ms=sum(r.message.latency_ms for r in stored) / len(stored) if stored else 0.0,
        feedback=len(entries),
        feedback_by_reason=reasons,
        feedback_waiting=len({e.image_sha256 for e in entries} - labelled),
    )


def wait_for_results(results_db, count: int, *, since: datetime | None = None, timeout: float = 60.0) -> int:
    """Wait until at least ``count`` results arrived since ``since``; how many did (fewer when time ran out)."""
    deadline = time.monotonic() + timeout
    while True:
        got = sum(1 for r in results_db.results(limit=0) if since is None or r.received_at >= since)
        if got >= count or time.monotonic() >= deadline:
            return got
        time.sleep(0.2)
