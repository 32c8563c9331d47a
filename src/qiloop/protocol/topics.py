"""The MQTT topics of the fleet, defined once: deployments, device reports, results.

- ``qiloop/deployments/device/<id>`` and ``qiloop/deployments/group/<group>``: signed
  deployment documents, retained (a device that connects later gets the latest at once).
- ``qiloop/devices/<id>/<kind>``: what one device says — ``hello`` (retained),
  ``deployments`` (reports), ``status`` and ``feedback``.
- ``qualityinspection/scratch-detection``: results, one topic for the fleet (the reference
  inspection app's topic), configurable per deployment; a result names its device inside
  and is bound to it by the device's signature, not by the topic.

A broker's access rules follow from :func:`device_acl`: a device publishes only under its
own topics (and on the results topic) and reads only its own and its groups' deployments.
"""

from __future__ import annotations

from dataclasses import dataclass

from qiloop.core.deployments import Target

ROOT = "qiloop"
DEVICE_ROOT = f"{ROOT}/devices"
DEPLOYMENT_ROOT = f"{ROOT}/deployments"
RESULT_TOPIC = "qualityinspection/scratch-detection"

HELLO, REPORTS, STATUS, FEEDBACK = "hello", "deployments", "status", "feedback"
DEVICE_KINDS = (HELLO, REPORTS, STATUS, FEEDBACK)


def device_topic(device_id: str, kind: str, root: str = DEVICE_ROOT) -> str:
    """``<root>/<device_id>/<kind>``."""
    return f"{root}/{device_id}/{kind}"


def device_wildcard(kind: str, root: str = DEVICE_ROOT) -> str:
    """The subscription for one kind of message from every device: ``<root>/+/<kind>``."""
    return f"{root}/+/{kind}"


def hello_topic(device_id: str) -> str:
    return device_topic(device_id, HELLO)


def report_topic(device_id: str) -> str:
    return device_topic(device_id, REPORTS)


def status_topic(device_id: str, root: str = DEVICE_ROOT) -> str:
    return device_topic(device_id, STATUS, root)


def feedback_topic(device_id: str, root: str = DEVICE_ROOT) -> str:
    return device_topic(device_id, FEEDBACK, root)


def deployment_topic(target: Target) -> str:
    return f"{DEPLOYMENT_ROOT}/{target.kind}/{target.name}"


HELLO_WILDCARD = device_wildcard(HELLO)
REPORT_WILDCARD = device_wildcard(REPORTS)
STATUS_WILDCARD = device_wildcard(STATUS)
FEEDBACK_WILDCARD = device_wildcard(FEEDBACK)


def device_of(topic: str, root: str = DEVICE_ROOT) -> tuple[str, str] | None:
    """``(device_id, kind)`` of a per-device topic under ``root``, or None for any other topic.

    Example:
        >>> device_of("qiloop/devices/cam-1/status")
        ('cam-1', 'status')
        >>> device_of("qualityinspection/scratch-detection") is None
        True
    """
    parts, prefix = topic.split("/"), root.split("/")
    if parts[: len(prefix)] != prefix or len(parts) != len(prefix) + 2 or not parts[-2]:
        return None
    return parts[-2], parts[-1]


@dataclass(frozen=True)
class DeviceAcl:
    """What one device may do on the broker (MQTT topic filters)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def device_acl(
    device_id: str, groups: list[str] | tuple[str, ...] = (), results_topic: str = RESULT_TOPIC
) -> DeviceAcl:
    """The topics a device needs, and no more: its own ``<root>/<id>/#``, the results topic, its deployments.

    Example:
        >>> device_acl("cam-1", ["line-1"]).subscribe
        ('qiloop/deployments/device/cam-1', 'qiloop/deployments/group/line-1')
    """
    subscribe = [deployment_topic(Target(kind="device", name=device_id))]
    subscribe += [deployment_topic(Target(kind="group", name=g)) for g in groups]
    return DeviceAcl(publish=(f"{DEVICE_ROOT}/{device_id}/#", results_topic), subscribe=tuple(subscribe))
