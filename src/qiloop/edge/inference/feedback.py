"""Which images go back for labelling: a pure policy over one image's detection scores.

An image is sent back when the model is unsure of it (its top score falls in the
uncertain band), optionally when it found nothing, and otherwise as a random
sample of the confident ones so labelling also sees what the model gets right.
The sample is drawn from a hash of the seed and the image's key, not from a
running generator: the same image gets the same decision in any order and after
a restart, so an image inspected twice is never sent once for each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qiloop.protocol.messages import FeedbackReason


class FeedbackPolicy(BaseModel):
    """When an inspected image is sent back for labelling.

    Args:
        enabled: Send feedback images at all.
        uncertain_low: Lower end of the uncertain band on the image's top score (inclusive).
        uncertain_high: Upper end of the band (exclusive); a top score at or above it is confident.
        uncertain_scores: Which scores the band looks at: ``top``, the image's top score (an image
            with one confident box is confident), or ``any``, every box (an image with a confident
            scratch and a doubtful second box goes back too: more images, and the hard ones).
        no_detection: Send images with no detection at or above the confidence threshold.
        sample_rate: Share of the remaining (confident) images sent as a random sample.
        seed: Seed of the sample; another seed picks other images.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    uncertain_low: float = Field(default=0.25, ge=0, le=1)
    uncertain_high: float = Field(default=0.5, ge=0, le=1)
    uncertain_scores: Literal["top", "any"] = "top"
    no_detection: bool = False
    sample_rate: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0

    @model_validator(mode="after")
    def _band(self) -> FeedbackPolicy:
        if self.uncertain_low > self.uncertain_high:
            raise ValueError(f"uncertain_low ({self.uncertain_low}) is above uncertain_high ({self.uncertain_high})")
        return self


def sample_draw(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by ``seed`` and ``key`` (the first 64 bits of a sha256)."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def select_feedback(
    scores: Sequence[float], policy: FeedbackPolicy, *, confidence: float, key: str
) -> FeedbackReason | None:
    """Why this image should go back for labelling, or ``None``.

    Args:
        scores: Every detection score of the image, including those below ``confidence``
            (the app detects down to ``min(confidence, uncertain_low)`` for this).
        policy: The feedback policy.
        confidence: The score a detection needs to count as one.
        key: What identifies the image for the sample (its sha256).

    Returns:
        ``"uncertain"`` when the top score (with ``uncertain_scores="any"``: any score) lies in
        ``[uncertain_low, uncertain_high)``;
        else ``"no_detection"`` when the policy asks for it and no score reaches
        ``confidence``; else ``"sample"`` for a ``sample_rate`` share; else ``None``.

    Example:
        >>> select_feedback([0.3], FeedbackPolicy(), confidence=0.25, key="a")
        'uncertain'
        >>> select_feedback([0.9], FeedbackPolicy(), confidence=0.25, key="a") is None
        True
    """
    if not policy.enabled:
        return None
    top = max(scores, default=0.0)
    looked_at = scores if policy.uncertain_scores == "any" else [top] if scores else []
    if any(policy.uncertain_low <= s < policy.uncertain_high for s in looked_at):
        return "uncertain"
    if policy.no_detection and top < confidence:
        return "no_detection"
    if policy.sample_rate > 0 and sample_draw(policy.seed, key) < policy.sample_rate:
        return "sample"
    return None
