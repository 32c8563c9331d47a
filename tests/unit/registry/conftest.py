"""A real MLflow registry (SQLite in a temporary folder) and tiny but valid model packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from qiloop.core.package import write_manifest


def tiny_onnx(path: Path, seed: float = 1.0) -> None:
    """A valid one-node ONNX graph (y = x * seed); different seeds give different bytes."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    scale = numpy_helper.from_array(np.array([seed], dtype=np.float32), name="scale")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["images", "scale"], ["output0"])],
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 32, 64])],
        initializer=[scale],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def make_package(folder: Path, *, seed: float = 1.0, map50: float = 0.8, fingerprint: str = "f" * 16) -> Path:
    """A model package folder: model.onnx, model.int8.onnx and a manifest with lineage."""
    folder.mkdir(parents=True, exist_ok=True)
    tiny_onnx(folder / "model.onnx", seed)
    tiny_onnx(folder / "model.int8.onnx", seed + 0.5)
    write_manifest(
        folder,
        name="scratch-detector",
        classes=["scratch"],
        input_width=64,
        input_height=32,
        metrics={"mAP50": map50, "mAP50-95": map50 / 2},
        dataset_snapshot={"fingerprint": fingerprint, "label_store_version": 3},
        label_store_version=3,
        git_commit="0123abc",
    )
    return folder


@pytest.fixture(scope="session")
def package_factory():
    """``make_package(folder, seed=..., map50=..., fingerprint=...)`` for tests that need more packages."""
    return make_package


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """One SQLite-backed registry per test module (creating its database takes seconds)."""
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    home = tmp_path_factory.mktemp("home")
    return ModelRegistry.from_settings(Settings(home=home))


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """Three distinct packages, built once per module."""
    root = tmp_path_factory.mktemp("packages")
    return [make_package(root / f"p{i}", seed=float(i + 1), map50=0.6 + 0.1 * i) for i in range(3)]
