"""Execution providers are checked with a clear error; the optimised graph is kept and reused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.edge.runtime import OnnxDetector
from qiloop.edge.runtime.session import check_providers, optimized_path


def test_a_missing_provider_names_what_is_available_and_what_to_install():
    with pytest.raises(ConfigurationError, match="OpenVINOExecutionProvider") as error:
        check_providers(["OpenVINOExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"])
    assert "available: CPUExecutionProvider" in error.value.message
    assert "onnxruntime-openvino" in error.value.hint


def test_an_unknown_provider_still_gets_a_hint():
    with pytest.raises(ConfigurationError, match="NoSuchExecutionProvider") as error:
        check_providers(["NoSuchExecutionProvider"], ["CPUExecutionProvider"])
    assert "leave providers unset" in error.value.hint


def test_available_providers_pass_in_order():
    available = ["AzureExecutionProvider", "CPUExecutionProvider"]
    assert check_providers(["CPUExecutionProvider", "AzureExecutionProvider"], available) == [
        "CPUExecutionProvider",
        "AzureExecutionProvider",
    ]


def test_the_detector_refuses_a_provider_this_onnxruntime_lacks(tiny_package):
    with pytest.raises(ConfigurationError, match="not available here"):
        OnnxDetector.from_package(tiny_package, providers=["OpenVINOExecutionProvider"])


@pytest.mark.parametrize("int8", [False, True], ids=["fp32", "int8"])
def test_the_optimised_graph_is_written_once_and_gives_the_same_detections(tiny_package, tmp_path, int8):
    cache = tmp_path / "optimised"
    first = OnnxDetector.from_package(tiny_package, threads=1, int8=int8, optimized_dir=cache)
    written = sorted(cache.iterdir())
    assert len(written) == 1 and written[0].suffix == ".onnx", written
    stamp = written[0].stat().st_mtime_ns
    again = OnnxDetector.from_package(tiny_package, threads=1, int8=int8, optimized_dir=cache)
    assert sorted(cache.iterdir()) == written and written[0].stat().st_mtime_ns == stamp
    plain = OnnxDetector.from_package(tiny_package, threads=1, int8=int8)
    rgb = np.random.default_rng(0).integers(0, 256, (120, 180, 3), dtype=np.uint8)
    expected = plain.detect(rgb, confidence=0.01)
    for detector in (first, again):
        found = detector.detect(rgb, confidence=0.01)
        assert len(expected) > 0 and np.allclose(found.xyxy, expected.xyxy, atol=1e-3)
        assert np.allclose(found.scores, expected.scores, atol=1e-5)


def test_a_damaged_optimised_graph_is_rebuilt(tiny_package, tmp_path):
    cache = tmp_path / "optimised"
    OnnxDetector.from_package(tiny_package, threads=1, optimized_dir=cache)
    (cached,) = cache.iterdir()
    cached.write_bytes(b"not a model")
    detector = OnnxDetector.from_package(tiny_package, threads=1, optimized_dir=cache)
    assert detector.ready and cached.stat().st_size > 1000


def test_the_cache_name_holds_model_runtime_providers_and_cpu(tmp_path):
    a = optimized_path(tmp_path, "ab" * 32, "1.32.0", ["CPUExecutionProvider"])
    b = optimized_path(tmp_path, "cd" * 32, "1.32.0", ["CPUExecutionProvider"])
    c = optimized_path(tmp_path, "ab" * 32, "1.33.0", ["CPUExecutionProvider"])
    assert len({a, b, c}) == 3 and "cpu" in a.name and a.parent == tmp_path


def test_a_read_only_package_folder_is_not_written(tiny_package, tmp_path):
    package = tmp_path / "package"
    shutil.copytree(tiny_package, package)
    before = sorted(p.name for p in package.iterdir())
    OnnxDetector.from_package(package, threads=1, optimized_dir=tmp_path / "elsewhere")
    assert sorted(p.name for p in package.iterdir()) == before


def test_an_unwritable_cache_folder_only_costs_the_cache(tiny_package, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    detector = OnnxDetector.from_package(tiny_package, threads=1, optimized_dir=blocker / "optimised")
    assert detector.ready and blocker.is_file()


@pytest.mark.parametrize(("spin", "expected"), [(False, "0"), (True, "1")])
def test_worker_threads_spin_only_when_asked(tiny_package, spin, expected):
    detector = OnnxDetector.from_package(tiny_package, threads=2, spin=spin)
    options = detector.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == expected
    assert options.intra_op_num_threads == 2
