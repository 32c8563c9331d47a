"""Device messages as a device's outbox publishes them, and tiny real images for feedback.

Shared by the fleet's unit and integration tests (``from device_messages import Device, png``).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image

from qiloop.edge.inference.outbox import encode_payload
from qiloop.protocol.messages import DetectedBox, DeviceStatus, FeedbackImage, InferenceResult


def png(seed: int = 0, size: tuple[int, int] = (32, 24)) -> bytes:
    """A small real PNG with content that depends on ``seed``."""
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "PNG")
    return out.getvalue()


BOXES = [
    DetectedBox(class_id=0, class_name="scratch", score=0.41, left=3, top=4, width=10, height=6),
    DetectedBox(class_id=0, class_name="scratch", score=0.3, left=-2, top=1, width=5, height=5),
]


class Device:
    """Builds the payloads a device's outbox would publish (``device_id`` and ``sequence`` added)."""

    def __init__(self, device_id: str = "cam-1") -> None:
        self.device_id = device_id

    def result(self, sequence: int, verdict: str = "fail") -> bytes:
        body = InferenceResult(device_id=self.device_id, image_name=f"img-{sequence}.png", model_name="det",
                               model_version="3", detections=BOXES[:1] if verdict == "fail" else [],
                               verdict=verdict, latency_ms=40.0).body()  # fmt: skip
        return encode_payload(body, self.device_id, sequence)

    def status(self, sequence: int) -> bytes:
        body = DeviceStatus(device_id=self.device_id, model_name="det", images_processed=sequence).body()
        return encode_payload(body, self.device_id, sequence)

    def feedback(self, sequence: int, data: bytes, *, b64: str | None = None, sha: str | None = None) -> bytes:
        body = FeedbackImage(
            device_id=self.device_id, reason="uncertain", image_name=f"fb-{sequence}.png",
            image_sha256=sha if sha is not None else hashlib.sha256(data).hexdigest(), model_name="det",
            model_version="3", prelabels=BOXES, image_b64=b64 or FeedbackImage.encode_image(data),
        ).body()  # fmt: skip
        return encode_payload(body, self.device_id, sequence)
