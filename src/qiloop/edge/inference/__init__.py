"""The inference app's delivery path: a durable outbox drained to MQTT at least once.

Imports the standard library, paho-mqtt and ``qiloop.core`` only, so it runs on
a device with nothing but ``pip install qiloop[edge]``.
"""

from qiloop.edge.inference.outbox import (
    Admission,
    Message,
    Outbox,
    OutboxFullError,
    OutboxStats,
    Queued,
    encode_payload,
    plan_admission,
)
from qiloop.edge.inference.publisher import MqttPublisher

__all__ = [
    "Admission",
    "Message",
    "MqttPublisher",
    "Outbox",
    "OutboxFullError",
    "OutboxStats",
    "Queued",
    "encode_payload",
    "plan_admission",
]
