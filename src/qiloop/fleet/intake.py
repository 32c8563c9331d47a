"""What the cloud does with one device message: check it, drop it if seen, store it.

No MQTT here: :class:`Intake` takes a topic and the raw payload, so the same
code serves the MQTT collector, a replay from a file, and the tests. Every
message ends in exactly one :class:`Outcome` (stored, duplicate, rejected,
invalid or failed); a bad message is reported, never raised, so one corrupt
upload cannot stop the stream of the others. With a
:class:`~qiloop.fleet.device_trust.DeviceTrust`, a message its device's key did
not sign (or one on another device's topic, or from a device not enrolled) is
``rejected`` with the reason; a replayed copy of a stored message carries the
signed ``(device_id, sequence)`` of the original and is a ``duplicate``.

Feedback images are stored in this order: image bytes into the image store,
then the feedback row (with the pre-labels), then the ``(device_id, sequence)``
marked as seen. A crash between steps leaves the message unmarked; its
re-delivery stores the same bytes again (a no-op, content-addressed) and a
second row that :class:`~qiloop.storage.feedback.FeedbackLog` reads as one.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from qiloop.core.errors import ImageRejectedError, InvalidRecordError, StoreError
from qiloop.core.records import Box
from qiloop.fleet.device_trust import DeviceTrust, UntrustedMessage
from qiloop.fleet.results_db import ResultsDB
from qiloop.protocol.messages import DetectedBox, DeviceStatus, FeedbackImage, InferenceResult, parse_message
from qiloop.protocol.topics import DEVICE_ROOT, RESULT_TOPIC
from qiloop.storage.feedback import FeedbackEntry
from qiloop.storage.image_store import ImageStore

log = logging.getLogger(__name__)
Status = Literal["stored", "duplicate", "rejected", "invalid", "failed"]
DeviceMessage = InferenceResult | DeviceStatus | FeedbackImage
# The failures of an unavailable store (image store, feedback log, fleet database): worth retrying.
STORE_FAILURES = (StoreError, OSError, sqlite3.OperationalError)


@dataclass(frozen=True)
class Outcome:
    """What became of one message; ``kind`` is ``unknown`` when the payload could not be read.

    ``retryable``: it failed because a store is unavailable (a :data:`STORE_FAILURES`
    type), so storing it again later may work; any other failure would fail again.
    """

    kind: str
    status: Status
    message: DeviceMessage | None = None
    reason: str = ""
    retryable: bool = False


def topic_problem(
    topic: str, message: DeviceMessage, results_topic: str = RESULT_TOPIC, device_root: str = DEVICE_ROOT
) -> str | None:
    """Why ``message`` does not belong on ``topic`` (kind or device mismatch), or None when it does.

    Example:
        >>> topic_problem("qiloop/devices/cam-2/status", DeviceStatus(device_id="cam-1", sequence=1))
        "topic names device 'cam-2' but the message comes from 'cam-1'"
    """
    parts = topic.split("/")
    root = device_root.split("/")
    if parts[: len(root)] == root and len(parts) == len(root) + 2:
        device, kind = parts[len(root)], parts[-1]
        if kind != message.kind:
            return f"a {message.kind} message on the {kind} topic {topic!r}"
        if device != message.device_id:
            return f"topic names device {device!r} but the message comes from {message.device_id!r}"
        return None
    if topic == results_topic and message.kind != "result":
        return f"a {message.kind} message on the results topic {topic!r}"
    return None


def prelabel_boxes(boxes: list[DetectedBox]) -> list[Box]:
    """The model's detections as label boxes: clipped to the image's top-left, empty boxes dropped."""
    out = []
    for b in boxes:
        left, top = max(b.left, 0.0), max(b.top, 0.0)
        width, height = b.left + b.width - left, b.top + b.height - top
        if width > 0 and height > 0:
            out.append(Box(class_id=b.class_id, left=left, top=top, width=width, height=height, score=b.score))
    return out


class Intake:
    """Stores device messages once each: results and status in ``db``, feedback images in ``store``.

    Args:
        db: The fleet database (de-duplication and history).
        store: The image store that receives feedback images and their feedback rows.
        results_topic: The topic results arrive on (checked against the message kind).
        device_root: The root of the per-device topics (``<root>/<device_id>/status|feedback``).
        trust: Believes only messages signed by enrolled devices on their own topics; None stores
            every well-formed message (for tests of the stores alone).
    """

    def __init__(
        self,
        db: ResultsDB,
        store: ImageStore,
        *,
        results_topic: str = RESULT_TOPIC,
        device_root: str = DEVICE_ROOT,
        trust: DeviceTrust | None = None,
    ) -> None:
        self.db, self.store, self.trust = db, store, trust
        self.results_topic, self.device_root = results_topic, device_root

    def handle(self, topic: str, payload: bytes, received_at: datetime | None = None) -> Outcome:
        """Check and store one message; returns its outcome and raises nothing the message caused."""
        received_at = received_at or datetime.now(timezone.utc)
        try:
            data = self.trust.check(topic, payload) if self.trust is not None else payload
            message = parse_message(data)
        except UntrustedMessage as exc:
            return Outcome(exc.kind, "rejected", reason=exc.message)
        except InvalidRecordError as exc:
            return Outcome("unknown", "invalid", reason=exc.message)
        problem = topic_problem(topic, message, self.results_topic, self.device_root)
        if problem is None and message.sequence is None:
            problem = "the message has no sequence, so duplicates of it could not be dropped"
        if problem is not None:
            return Outcome(message.kind, "invalid", message, problem)
        try:
            new = self._store(message, received_at)
        except (InvalidRecordError, ImageRejectedError) as exc:
            return Outcome(message.kind, "invalid", message, exc.message)
        except STORE_FAILURES as exc:  # a store is down: report it, worth another try
            log.warning("could not store %s %s/%s: %s", message.kind, message.device_id, message.sequence, exc)
            return Outcome(message.kind, "failed", message, f"{type(exc).__name__}: {exc}", retryable=True)
        except Exception as exc:  # anything else would fail again: report it and go on with the next message
            log.exception("could not store %s %s/%s", message.kind, message.device_id, message.sequence)
            return Outcome(message.kind, "failed", message, f"{type(exc).__name__}: {exc}")
        return Outcome(message.kind, "stored" if new else "duplicate", message)

    def _store(self, message: DeviceMessage, received_at: datetime) -> bool:
        if isinstance(message, InferenceResult):
            return self.db.add_result(message, received_at)
        if isinstance(message, DeviceStatus):
            return self.db.add_status(message, received_at)
        return self._store_feedback(message, received_at)

    def _store_feedback(self, feedback: FeedbackImage, received_at: datetime) -> bool:
        assert feedback.sequence is not None  # checked in handle()
        if self.db.feedback_seen(feedback.device_id, feedback.sequence):
            return False
        data = feedback.image_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if feedback.image_sha256 and feedback.image_sha256 != sha:
            raise InvalidRecordError(
                f"feedback image {feedback.image_name!r} does not match its sha256 {feedback.image_sha256[:12]}…"
                f" (the bytes hash to {sha[:12]}…)"
            )
        record = self.store.ingest_bytes(
            data, name=feedback.image_name, source=f"feedback:{feedback.device_id}", captured_at=feedback.time
        )
        entry = FeedbackEntry(
            image_sha256=record.sha256,
            image_name=feedback.image_name,
            device_id=feedback.device_id,
            sequence=feedback.sequence,
            reason=feedback.reason,
            model_name=feedback.model_name,
            model_version=feedback.model_version,
            prelabels=prelabel_boxes(feedback.prelabels),
            sent_at=feedback.time,
            received_at=received_at,
        )
        self.store.feedback.append([entry])
        return self.db.mark_feedback(feedback, record.sha256, received_at)
