"""A real (untrained, seeded) YOLOv8n model package, exported once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory):
    """A package at 64x96 (height x width), one class, with an INT8 model beside the FP32 one."""
    pytest.importorskip("ultralytics", reason="building a test model needs the train extra")
    from onnx_models import build_package

    return build_package(tmp_path_factory.mktemp("tiny") / "package", (64, 96), int8=True)
