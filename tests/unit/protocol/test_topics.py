"""The fleet's topics: one root, per-device topics that name their device, and the access a device needs."""

import pytest

from qiloop.core.deployments import Target
from qiloop.protocol import topics


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("qiloop/devices/cam-1/status", ("cam-1", "status")),
        ("qiloop/devices/cam-1/hello", ("cam-1", "hello")),
        ("qiloop/devices/cam-1/deployments", ("cam-1", "deployments")),
        ("qiloop/devices//status", None),  # no device named
        ("qiloop/devices/cam-1/status/extra", None),
        ("other/devices/cam-1/status", None),
        ("qualityinspection/scratch-detection", None),
    ],
)
def test_device_of_names_the_device_of_a_per_device_topic(topic, expected):
    assert topics.device_of(topic) == expected


def test_every_topic_is_built_from_the_one_root():
    assert topics.DEVICE_ROOT.startswith(topics.ROOT + "/") and topics.DEPLOYMENT_ROOT.startswith(topics.ROOT + "/")
    built = [topics.hello_topic("d"), topics.report_topic("d"), topics.status_topic("d"), topics.feedback_topic("d")]
    assert [topics.device_of(t) for t in built] == [("d", k) for k in topics.DEVICE_KINDS]
    assert topics.STATUS_WILDCARD == "qiloop/devices/+/status"
    assert topics.deployment_topic(Target(kind="group", name="line-1")) == "qiloop/deployments/group/line-1"
    assert topics.device_of(topics.status_topic("d", "ns/devices"), "ns/devices") == ("d", "status")


def test_a_device_may_publish_only_under_its_own_topics_and_read_its_deployments():
    acl = topics.device_acl("cam-1", ["line-1", "line-2"])
    assert acl.publish == ("qiloop/devices/cam-1/#", topics.RESULT_TOPIC)
    assert acl.subscribe == (
        "qiloop/deployments/device/cam-1", "qiloop/deployments/group/line-1", "qiloop/deployments/group/line-2"
    )  # fmt: skip
