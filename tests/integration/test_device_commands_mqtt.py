"""``qiloop edge run`` on a device install (no Typer, Rich or pydantic-settings) against a real Mosquitto.

The command runs in a fresh interpreter where the CLI's frameworks cannot be imported, on the tiny
real ONNX package and generated JPEGs; a real subscriber receives one result per image.
"""

from __future__ import annotations

import io
import json

import pytest

from device_cli_helpers import device_qiloop
from mqtt_helpers import PrivateBroker, Subscriber, require_mosquitto
from qiloop.protocol.topics import RESULT_TOPIC

pytestmark = pytest.mark.broker
require_mosquitto()


def test_edge_run_without_the_cli_frameworks_publishes_a_result_per_image(tmp_path, tiny_package):
    from PIL import Image

    from onnx_models import random_photo

    images = []
    for i in range(3):
        path = tmp_path / f"tag-{i}.jpg"
        buf = io.BytesIO()
        Image.fromarray(random_photo(i, (64, 96))).save(buf, "JPEG", quality=85)
        path.write_bytes(buf.getvalue())
        images.append(path)
    broker = PrivateBroker(tmp_path / "broker")
    broker.start()
    subscriber = Subscriber(broker.port, RESULT_TOPIC)
    try:
        done = device_qiloop("edge", "run", "--package", tiny_package, "--device-id", "cam-1", "--broker",
                             broker.url, "--home", tmp_path / "home", "--json", *images)  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["images_processed"] == 3 and summary["flushed"]
        assert subscriber.wait_until(lambda s: len(s.messages) >= 3, timeout=10), subscriber.messages
        assert {m["device_id"] for m in subscriber.messages} == {"cam-1"}
    finally:
        subscriber.close()
        broker.kill()
