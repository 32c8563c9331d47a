"""Use case: approve a registered version, on qiloop's approval record, and the rule for promoting one.

An approval is recorded in the registry's approval ledger (who, when, the gate's
figures); the newest approved version becomes ``production``, which is what
deployment and serving run. :func:`promotion` is the loop's rule for approving a
candidate without a person: it passed the gate and, when a production model
exists, it is better than that model on the same test images (in mAP50, or in
recall at the operating point).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Approved:
    """A version approved now: what production was before and is after."""

    version: str
    production: str | None
    previous_production: str | None
    actor: str

    @property
    def production_changed(self) -> bool:
        return self.production != self.previous_production


@dataclass(frozen=True)
class Promotion:
    """Whether a trained candidate should be approved, and why (one sentence)."""

    promote: bool
    reason: str


def approve_version(registry, ref: str, *, reason: str | None = None, actor: str | None = None) -> Approved:
    """Approve ``ref`` (``scratch-detector/4``) on the record; the newest approved version becomes production.

    Raises:
        NotFoundError: No such version.
    """
    version = registry.get(ref)
    before = registry.production(version.name)
    registry.approve(version.ref, reason, actor=actor)
    after = registry.production(version.name)
    return Approved(
        version=version.ref,
        production=after.ref if after is not None else None,
        previous_production=before.ref if before is not None else None,
        actor=actor or "",
    )


def promotion(candidate, *, metric: str = "mAP50", min_gain: float = 0.0) -> Promotion:
    """Should the loop approve ``candidate`` (a :class:`qiloop.loop.train.TrainedCandidate`) by itself?

    Yes when it is registered (it passed the gate, which bounds any fall in ``metric``
    and in recall against production) and, if a production model was measured on the
    same test images, it beats that model by more than ``min_gain`` in ``metric`` or in
    recall at the operating point (the defects it finds on the line). The gate alone
    lets a slightly worse candidate through; this rule asks for a gain.

    Example:
        >>> from types import SimpleNamespace as C
        >>> promotion(C(version="m/2", reasons=(), champion="m/1", metrics={"mAP50": 0.8},
        ...             champion_metrics={"mAP50": 0.82})).promote
        False
    """
    if candidate.version is None:
        why = "; ".join(candidate.reasons) or "it was not registered"
        return Promotion(False, f"the gate refused it: {why}")
    if not candidate.champion:
        return Promotion(True, "it passed the gate and there is no production model yet")
    compared = []
    for name in dict.fromkeys((metric, "recall")):
        mine, theirs = candidate.metrics.get(name), candidate.champion_metrics.get(name)
        if mine is None or theirs is None:
            continue
        if mine - theirs > min_gain:
            why = f"{_what(name)} {mine:.3f} beats production {candidate.champion} ({theirs:.3f}) on the same images"
            return Promotion(True, why)
        compared.append(f"{_what(name)} {mine:.3f} against {theirs:.3f}")
    if not compared:
        return Promotion(False, f"no {metric} of both models to compare")
    return Promotion(
        False, f"it does not beat production {candidate.champion} on the same images: {', '.join(compared)}"
    )


def _what(name: str) -> str:
    return "recall at the operating point" if name == "recall" else name
