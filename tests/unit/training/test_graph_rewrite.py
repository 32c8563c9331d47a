"""The DFL softmax rewrite keeps a YOLOv8 export's outputs and leaves other graphs alone."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="graph rewrites need the train extra (onnx)")
ort = pytest.importorskip("onnxruntime", reason="the outputs are compared in ONNX Runtime")

from qiloop.training.graph_rewrite import dfl_softmax_last_axis, rewrite_file  # noqa: E402


def run(path, tensor: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: tensor})[0]


def test_a_yolov8_export_gives_the_same_outputs_after_the_rewrite(yolo_package, tmp_path):
    model = tmp_path / "model.onnx"
    shutil.copy(yolo_package / "model.onnx", model)
    before = onnx.load(str(model))
    assert rewrite_file(model) == 1
    after = onnx.load(str(model))
    softmax = [n for n in after.graph.node if n.op_type == "Softmax"]
    assert [a.i for n in softmax for a in n.attribute if a.name == "axis"] == [-1]
    assert sum(n.op_type == "Conv" for n in after.graph.node) == sum(n.op_type == "Conv" for n in before.graph.node) - 1
    assert {p.key: p.value for p in after.metadata_props} == {p.key: p.value for p in before.metadata_props}
    tensor = np.random.default_rng(0).random((1, 3, 64, 96), np.float32)
    expected = run(yolo_package / "model.onnx", tensor)
    got = run(model, tensor)
    assert got.shape == expected.shape and np.allclose(got, expected, rtol=1e-5, atol=1e-4)
    assert rewrite_file(model) == 0  # nothing left to rewrite


def test_a_graph_without_the_block_is_left_alone(tiny_package):
    model = onnx.load(str(tiny_package / "model.onnx"))
    nodes = [n.SerializeToString() for n in model.graph.node]
    assert dfl_softmax_last_axis(model) == 0
    assert [n.SerializeToString() for n in model.graph.node] == nodes
