"""Publish a signed deployment where its devices listen: retained, QoS 1, on its target's topic.

Retained, so a device that is offline or restarts receives the latest deployment
for its device topic and for each of its groups as soon as it connects. The call
returns only when the broker acknowledged the message (PUBACK).
"""

from __future__ import annotations

import uuid

from qiloop.core.deployments import Deployment, SignedDeployment, Target
from qiloop.core.errors import StoreError
from qiloop.fleet.signing import Signer, sign_deployment
from qiloop.protocol.mqtt import TlsFiles, mqtt_client
from qiloop.protocol.topics import deployment_topic


def publish_retained(
    broker_url: str, topic: str, payload: bytes, *, timeout: float = 10.0, tls: TlsFiles | None = None
) -> None:
    """Publish ``payload`` retained with QoS 1 and wait for the broker's acknowledgement (``tls``: see mqtt_client).

    Raises:
        StoreError: The broker could not be reached or did not acknowledge in time.
    """
    client = mqtt_client(broker_url, f"qiloop-deploy-{uuid.uuid4().hex[:8]}", tls=tls)
    try:
        client.reconnect()  # connect now, so an unreachable broker fails at once
    except OSError as exc:
        raise StoreError(f"cannot reach the broker at {broker_url}: {exc}", hint="start the broker") from exc
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise StoreError(f"the broker at {broker_url} did not acknowledge {topic} within {timeout:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()


def publish_deployment(
    broker_url: str, deployment: Deployment, signer: Signer, *, timeout: float = 10.0
) -> SignedDeployment:
    """Sign ``deployment`` and publish it retained on its target's topic; the signed envelope."""
    signed = sign_deployment(deployment, signer)
    payload = signed.model_dump_json().encode()
    publish_retained(broker_url, deployment_topic(deployment.target), payload, timeout=timeout)
    return signed


def clear_deployment(broker_url: str, target: Target, *, timeout: float = 10.0) -> None:
    """Remove the retained deployment of ``target`` (an empty retained message)."""
    publish_retained(broker_url, deployment_topic(target), b"", timeout=timeout)
