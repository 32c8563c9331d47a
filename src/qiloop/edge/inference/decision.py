"""One image's outcome, decided without I/O: detections → verdict, feedback, messages to store.

:class:`InferenceApp` reads a frame, runs the detector, and hands what it found to
:func:`decide`; it then stores :attr:`Decision.messages` in the outbox, in order, and
moves the frame. Everything between the detector and the outbox lives here, so a
table test can pin down every verdict and feedback decision without a model, a
broker or a disk.

The rules, fixed for a run by :meth:`Rules.of`:

- The detector is asked for everything down to ``detect_floor``: the operating
  ``confidence``, or the feedback policy's ``uncertain_low`` when that is lower, so
  feedback sees the scores that results leave out.
- A result lists the detections at or above ``confidence`` (per class, at the
  operating point training chose, unless the configuration sets one confidence);
  its verdict is ``fail`` when one of them reaches ``defect``, else ``pass``.
- Feedback (:func:`~qiloop.edge.inference.feedback.select_feedback`) looks at every
  score found and, when it picks the image, sends it with all of them as pre-labels.
- Each message is stored under an idempotency key (image name and sha256), so an
  image inspected again after a crash yields nothing new.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qiloop.core.detections import Detections
from qiloop.edge.inference.feedback import FeedbackPolicy, select_feedback
from qiloop.protocol.messages import DetectedBox, FeedbackImage, FeedbackReason, InferenceResult
from qiloop.protocol.topics import feedback_topic


@dataclass(frozen=True)
class Rules:
    """What one run decides with: the device, the model, the thresholds and the feedback policy."""

    device_id: str
    results_topic: str
    model_name: str
    model_version: str
    classes: tuple[str, ...]
    confidence: float
    defect: float
    feedback: FeedbackPolicy
    class_confidence: dict[int, float] | None = None  # per class id; None: ``confidence`` for all

    @property
    def operating(self) -> float | dict[int, float]:
        """The confidence a detection needs to be reported: per class, or one for all."""
        return self.class_confidence or self.confidence

    @property
    def detect_floor(self) -> float:
        """The lowest score the detector must return: feedback needs the uncertain band too."""
        return min(self.confidence, self.feedback.uncertain_low) if self.feedback.enabled else self.confidence

    @classmethod
    def of(cls, config, manifest) -> Rules:
        """The rules of an :class:`~qiloop.edge.inference.config.AppConfig` run with a package's manifest.

        The configuration's ``confidence`` and ``defect`` override the manifest's thresholds
        (one confidence then serves every class).
        """
        limits = manifest.thresholds
        operating = manifest.operating_confidence() if config.confidence is None else config.confidence
        return cls(
            device_id=config.device_id, results_topic=config.results_topic, model_name=manifest.name,
            model_version=manifest.version, classes=tuple(manifest.classes),
            confidence=min(operating.values()) if isinstance(operating, dict) else operating,
            defect=limits.defect if config.defect is None else config.defect, feedback=config.feedback,
            class_confidence=operating if isinstance(operating, dict) else None,
        )  # fmt: skip


@dataclass(frozen=True)
class Outgoing:
    """A message to store once: idempotency key, topic, JSON body, kind."""

    key: str
    topic: str
    body: dict[str, Any]
    kind: str


@dataclass(frozen=True)
class Decision:
    """The outcome of one image: its result, why it goes back for labelling (or None), the messages."""

    result: InferenceResult
    feedback: FeedbackReason | None
    messages: tuple[Outgoing, ...]

    @property
    def defect(self) -> bool:
        return self.result.verdict == "fail"


def decide(rules: Rules, found: Detections, *, name: str, data: bytes, latency_ms: float, now: datetime) -> Decision:
    """Decide what one image yields.

    Args:
        rules: The run's rules.
        found: Every detection at or above ``rules.detect_floor``.
        name: The image's name (as the source knows it).
        data: The image's bytes (hashed for the idempotency key; sent as they are with feedback).
        latency_ms: How long the detection took.
        now: The time the result carries.

    Returns:
        The result (always the first message), then the feedback image when the policy picks it.
    """
    sha = hashlib.sha256(data).hexdigest()
    classes = list(rules.classes)
    kept = found.above(rules.operating)
    boxes = DetectedBox.from_detections(kept, classes)
    defect = any(b.score >= rules.defect for b in boxes)
    result = InferenceResult(
        time=now, device_id=rules.device_id, image_name=name, image_sha256=sha, model_name=rules.model_name,
        model_version=rules.model_version, detections=boxes, verdict="fail" if defect else "pass",
        latency_ms=round(latency_ms, 3),
    )  # fmt: skip
    messages = [Outgoing(f"result:{name}:{sha}", rules.results_topic, result.body(), "result")]
    reason = select_feedback(found.scores.tolist(), rules.feedback, confidence=rules.confidence, key=sha)
    if reason is not None:
        feedback = FeedbackImage(
            time=now, device_id=rules.device_id, reason=reason, image_name=name, image_sha256=sha,
            model_name=rules.model_name, model_version=rules.model_version,
            prelabels=DetectedBox.from_detections(found, classes), image_b64=FeedbackImage.encode_image(data),
        )  # fmt: skip
        messages.append(
            Outgoing(f"feedback:{name}:{sha}", feedback_topic(rules.device_id), feedback.body(), "feedback")
        )
    return Decision(result, reason, tuple(messages))
