"""Health checks: a real model's test inference in a child process, and processes that must stay up."""

from __future__ import annotations

import shutil
import sys

import pytest

from qiloop.core.components import Lifecycle
from qiloop.core.package import write_manifest
from qiloop.edge.agent.health import check_model, check_processes, golden_image
from qiloop.edge.agent.supervisor import ProcessSpec, Supervisor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def package(tiny_package):
    return tiny_package


def test_a_working_model_passes_on_a_grey_and_on_a_golden_image(package, tmp_path):
    assert golden_image(package, tmp_path) is None
    assert check_model(package, tmp_path, timeout_s=60) is None
    from PIL import Image

    (tmp_path / "golden").mkdir()
    Image.new("RGB", (120, 80), (90, 90, 90)).save(tmp_path / "golden" / "tag.jpg")
    assert golden_image(package, tmp_path) == tmp_path / "golden" / "tag.jpg"
    assert check_model(package, tmp_path, timeout_s=60) is None


def test_a_model_whose_manifest_lies_fails_its_test_inference(package, tmp_path):
    lying = tmp_path / "lying"
    lying.mkdir()
    shutil.copy(package / "model.onnx", lying / "model.onnx")
    write_manifest(lying, name="x", version="2", classes=["scratch", "dent"], input_height=64, input_width=96)
    problem = check_model(lying, tmp_path, timeout_s=60)
    assert problem is not None and "class" in problem


def test_an_altered_model_file_fails(package, tmp_path):
    altered = tmp_path / "altered"
    shutil.copytree(package, altered)
    data = bytearray((altered / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (altered / "model.onnx").write_bytes(bytes(data))
    assert "manifest" in check_model(altered, tmp_path, timeout_s=60)


def test_a_check_that_takes_too_long_fails(package, tmp_path):
    assert "longer than" in check_model(package, tmp_path, timeout_s=0.05)


def _spec(tmp_path, code: str) -> ProcessSpec:
    lc = Lifecycle(command=["{python}", "-c", code], max_restarts=5)
    return ProcessSpec.build("app", "1", lc, {"python": sys.executable}, tmp_path)


def test_a_process_that_stays_up_passes_and_one_that_dies_fails(tmp_path):
    sup = Supervisor(tmp_path, stop_timeout_s=2)
    try:
        sup.start(_spec(tmp_path, "import time; time.sleep(30)"))
        assert check_processes(sup, ["app"], window_s=0.8) is None
        sup.start(_spec(tmp_path, "import time; time.sleep(0.2); raise SystemExit(1)"))
        problem = check_processes(sup, ["app"], window_s=3)
        assert problem is not None and "exited" in problem
    finally:
        sup.stop_all()
