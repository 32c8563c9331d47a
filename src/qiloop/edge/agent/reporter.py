"""The nucleus's voice: deployment reports through a durable outbox, each final state once.

Every report is written to ``<home>/reports.sqlite`` before it is sent and leaves it
only when the broker acknowledged it, so a broker outage delays reports and loses none.
A final report is stored under the key ``final/<deployment id>`` (the outbox's
idempotency key, written in the same transaction), so even a nucleus that crashes and
redoes its last step cannot report a deployment's end twice.
"""

from __future__ import annotations

import hashlib
import logging

from qiloop.edge.inference.outbox import Outbox
from qiloop.edge.inference.publisher import MqttPublisher
from qiloop.protocol.reports import DeploymentReport
from qiloop.protocol.signed import MessageSigner
from qiloop.protocol.topics import report_topic

log = logging.getLogger(__name__)
OUTBOX_BYTES = 16 * 1024 * 1024


class Reporter:
    """Queues :class:`DeploymentReport` messages and drains them to the broker in the background.

    Args:
        outbox: The durable queue (one per device).
        publisher: Drains ``outbox``; None keeps reports queued (for tests of the queue alone).
    """

    def __init__(self, outbox: Outbox, publisher: MqttPublisher | None) -> None:
        self.outbox, self.publisher = outbox, publisher

    @classmethod
    def open(cls, home, device_id: str, broker_url: str, *, signer: MessageSigner | None = None) -> Reporter:
        """The reporter of the device whose home is ``home``, connected to ``broker_url``, signing with ``signer``."""
        outbox = Outbox(home / "reports.sqlite", device_id=device_id, max_bytes=OUTBOX_BYTES, drop_policy="newest")
        publisher = MqttPublisher.connect(
            broker_url, outbox, f"{device_id}-nucleus-reports", backoff=(0.2, 5.0), signer=signer
        )
        return cls(outbox, publisher.start())

    def report(self, report: DeploymentReport, *, key: str | None = None) -> bool:
        """Queue ``report``; a final state goes under its once-only key. False when it was already queued."""
        topic = report_topic(report.device_id)
        if report.state.final or key is not None:
            once = key or f"final/{report.deployment_id}"
            stored = self.outbox.put_once(once, topic, report.body(), kind="deployment")
            log.info("deployment %s: %s %s", report.deployment_id, report.state.value, report.detail)
            return stored is not None
        self.outbox.put(topic, report.body(), kind="deployment")
        log.info("deployment %s: %s", report.deployment_id, report.state.value)
        return True

    def close(self, flush_s: float = 2.0) -> None:
        """Give queued reports ``flush_s`` seconds to leave, then stop (the rest wait on disk)."""
        if self.publisher is not None:
            self.publisher.flush(flush_s)
            self.publisher.stop()
        self.outbox.close()


def payload_key(payload: bytes) -> str:
    """The once-only key of a report about a document that has no trusted id (its bytes' digest)."""
    return f"final/sha256:{hashlib.sha256(payload).hexdigest()}"
