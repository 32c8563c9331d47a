"""The parity check: does the exported model find what the trained model finds?

Both models see the same images through the same pre- and post-processing;
every detection one of them reports at or above the compared confidence must
have a detection of the same class in the other with IoU >= ``iou_min`` and a
score within ``score_tol`` (of the boxes that overlap enough, the one with the
closest score is its counterpart). The other side is searched down to ``conf -
score_tol``, so a box scoring just above the threshold on one side and just
below on the other is not a failure.

Untrained or weak models may score nothing above the operating confidence; the
check then steps down to lower confidences (:data:`LEVELS`). A model that scores
nothing at all would still compare no box, so the raw head outputs of both
models on the same input tensors are compared too (:func:`raw_differences`):
that part of the check never passes vacuously.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from qiloop.core.detections import Detections
from qiloop.core.geometry import iou_matrix

LEVELS = (0.25, 0.05, 0.01)  # confidences tried in turn until some detection is compared
MAX_FAILURES_SHOWN = 5


@dataclass(frozen=True)
class ParityReport:
    """The outcome of comparing two models' detections on the same images."""

    images: int
    conf: float
    compared: int
    worst_iou: float
    worst_score_diff: float
    failures: list[str] = field(default_factory=list)
    raw_score_diff: float = 0.0
    raw_box_diff: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        verdict = "passed" if self.ok else f"FAILED ({len(self.failures)} unmatched)"
        return (
            f"parity {verdict}: {self.compared} boxes on {self.images} images at confidence {self.conf:g}; "
            f"worst IoU {self.worst_iou:.4f}, worst score difference {self.worst_score_diff:.4f}; "
            f"raw outputs differ by at most {self.raw_score_diff:.4f} in score, {self.raw_box_diff:.3f} px in box"
        )


def _one_way(
    a: Detections, b: Detections, conf: float, iou_min: float, score_tol: float, where: str
) -> tuple[int, float, float, list[str]]:
    wanted = a[a.scores >= conf] if len(a) else a
    pool = b[b.scores >= conf - score_tol] if len(b) else b
    worst_iou, worst_diff, failures = 1.0, 0.0, []
    for i in range(len(wanted)):
        box, score, cls = wanted.xyxy[i], wanted.scores[i], wanted.class_ids[i]
        same = np.flatnonzero(pool.class_ids == cls)
        if not len(same):
            failures.append(f"{where}: box {np.round(box, 1).tolist()} score {score:.3f} has no counterpart")
            worst_iou = 0.0
            continue
        ious = iou_matrix(box[None], pool.xyxy[same])[0]
        diffs = np.abs(pool.scores[same] - score)
        close = np.flatnonzero(ious >= iou_min)  # boxes clipped to the image may coincide: take the closest score
        j = int(close[np.argmin(diffs[close])]) if len(close) else int(np.argmax(ious))
        iou, diff = float(ious[j]), abs(float(pool.scores[same[j]]) - float(score))
        worst_iou, worst_diff = min(worst_iou, iou), max(worst_diff, diff)
        if iou < iou_min or diff > score_tol:
            failures.append(
                f"{where}: box {np.round(box, 1).tolist()} score {score:.3f}: best counterpart IoU {iou:.3f}, "
                f"score {pool.scores[same[j]]:.3f}"
            )
    return len(wanted), worst_iou, worst_diff, failures


def compare(
    reference: Sequence[Detections],
    candidate: Sequence[Detections],
    *,
    conf: float,
    iou_min: float = 0.98,
    score_tol: float = 0.02,
) -> ParityReport:
    """Compare two models' detections image by image, both ways, at confidence ``conf``.

    Example:
        >>> d = Detections(np.array([[0, 0, 10, 10]]), np.array([0.9]))
        >>> compare([d], [d], conf=0.25).ok
        True
    """
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} reference results but {len(candidate)} candidate results")
    compared, worst_iou, worst_diff, failures = 0, 1.0, 0.0, []
    for k, (ref, cand) in enumerate(zip(reference, candidate, strict=True)):
        for a, b, side in ((ref, cand, "reference"), (cand, ref, "candidate")):
            n, w_iou, w_diff, bad = _one_way(a, b, conf, iou_min, score_tol, f"image {k} ({side})")
            compared += n
            worst_iou, worst_diff = min(worst_iou, w_iou), max(worst_diff, w_diff)
            failures.extend(bad)
    return ParityReport(len(reference), conf, compared, worst_iou, worst_diff, failures)


def compare_levels(
    reference: Sequence[Detections],
    candidate: Sequence[Detections],
    *,
    levels: Sequence[float] = LEVELS,
    iou_min: float = 0.98,
    score_tol: float = 0.02,
) -> ParityReport:
    """:func:`compare` at the first confidence of ``levels`` where any detection is compared.

    Both sides must have been predicted down to ``min(levels) - score_tol``.
    """
    report = None
    for conf in levels:
        report = compare(reference, candidate, conf=conf, iou_min=iou_min, score_tol=score_tol)
        if report.compared or not report.ok:
            return report
    assert report is not None
    return report


def raw_differences(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray]) -> tuple[float, float]:
    """Largest absolute difference of the class scores and of the box values of two head outputs.

    Outputs are ``(1, 4 + classes, anchors)``: rows 0-3 the box (input pixels), the rest scores.

    Raises:
        ValueError: the two models' outputs have different shapes.
    """
    score, box = 0.0, 0.0
    for a, b in zip(reference, candidate, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"output shapes differ: {a.shape} and {b.shape}")
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        box = max(box, float(diff[:, :4].max(initial=0.0)))
        score = max(score, float(diff[:, 4:].max(initial=0.0)))
    return score, box


def with_raw(
    report: ParityReport, score_diff: float, box_diff: float, score_tol: float, box_tol: float
) -> ParityReport:
    """``report`` with the raw-output comparison added; beyond tolerance is a failure."""
    failures = list(report.failures)
    if score_diff > score_tol:
        failures.append(f"raw scores differ by {score_diff:.4f} (at most {score_tol:g} allowed)")
    if box_diff > box_tol:
        failures.append(f"raw boxes differ by {box_diff:.3f} px (at most {box_tol:g} allowed)")
    return replace(report, failures=failures, raw_score_diff=score_diff, raw_box_diff=box_diff)
