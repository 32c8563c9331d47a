"""The inference component as a device runs it: the unpacked zip alone, started by its lifecycle command.

The zip holds only ``qiloop.core``, ``qiloop.protocol`` and ``qiloop.edge``; the test unpacks
it, fills in the component's command the way the nucleus does, runs it with the zip first
on ``PYTHONPATH`` against a real Mosquitto, and judges it by the results a real subscriber
receives and a clean stop on SIGTERM.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mqtt_helpers import PrivateBroker, Subscriber, require_mosquitto
from qiloop.core.components import Lifecycle, settings_args
from qiloop.edge.agent.supervisor import ProcessSpec
from qiloop.fleet.packaging import INFERENCE_COMMAND, source_archive
from qiloop.protocol.topics import RESULT_TOPIC

TOPIC = f"{RESULT_TOPIC}/settings-check"

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture()
def broker(tmp_path):
    require_mosquitto()
    b = PrivateBroker(tmp_path / "broker")
    b.start()
    yield b
    b.kill()


def test_the_unpacked_component_inspects_images_and_publishes_results(yolo_package, broker, tmp_path):
    from PIL import Image

    from onnx_models import random_photo

    component = tmp_path / "component"
    zipfile.ZipFile(io.BytesIO(source_archive())).extractall(component)
    assert not (component / "qiloop" / "cli").exists() and not (component / "qiloop" / "training").exists()
    camera = tmp_path / "camera"
    camera.mkdir()
    values = {"python": sys.executable, "model_path": str(yolo_package), "device_id": "cam-1",
              "broker_url": broker.url, "camera_dir": str(camera), "data_dir": str(tmp_path / "data")}  # fmt: skip
    # the deployment's settings for the app, as the nucleus passes them (the topic proves they arrived)
    settings = {"threads": 1, "source": {"poll_s": 0.05, "settle_s": 0.05}, "results_topic": TOPIC}
    spec = ProcessSpec.build("qiloop-inference", "1", Lifecycle(command=INFERENCE_COMMAND), values, tmp_path,
                             settings_args(settings))  # fmt: skip
    argv = spec.argv
    assert argv[-4:] == ["results_topic=" + TOPIC, "source.poll_s=0.05", "source.settle_s=0.05", "threads=1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QILOOP_")} | {"PYTHONPATH": str(component)}
    sub = Subscriber(broker.port, TOPIC)
    log = (tmp_path / "app.log").open("w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        for i in range(3):
            Image.fromarray(random_photo(i, (48, 72))).save(camera / f"img-{i}.jpg", "JPEG")
        got = sub.wait_until(lambda s: len(s.of_kind("result")) >= 3, timeout=90)
        assert got, (tmp_path / "app.log").read_text()[-3000:]
        assert {m["image_name"] for m in sub.of_kind("result")} == {"img-0.jpg", "img-1.jpg", "img-2.jpg"}
        assert {m["device_id"] for m in sub.of_kind("result")} == {"cam-1"}
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        log.close()
        sub.close()
    assert rc == 0, Path(log.name).read_text()[-3000:]
    assert (tmp_path / "data" / "devices" / "cam-1" / "outbox.sqlite").is_file()
