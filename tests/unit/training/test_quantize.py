"""decode_tail and input_stem find the float-only parts of a YOLO graph; calibration tensors match the device's."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from qiloop.core.errors import ConfigurationError
from qiloop.training.quantize import calibration_batches, decode_tail, input_stem, quantize_int8


def head_graph() -> onnx.GraphProto:
    """features -> box conv, class conv -> DFL softmax -> DFL conv -> box math; sigmoid scores -> concat."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w_stem"], ["stem_raw"], name="stem/Conv"),
        n("Sigmoid", ["stem_raw"], ["stem_gate"], name="stem/Sigmoid"),
        n("Mul", ["stem_raw", "stem_gate"], ["stem"], name="stem/Mul"),
        n("Conv", ["stem", "w_feat"], ["feat"], name="backbone/Conv"),
        n("Conv", ["feat", "w_box"], ["box_raw"], name="head/cv2/Conv"),
        n("Conv", ["feat", "w_cls"], ["cls_raw"], name="head/cv3/Conv"),
        n("Softmax", ["box_raw"], ["dist"], name="head/dfl/Softmax"),
        n("Conv", ["dist", "w_dfl"], ["ltrb"], name="head/dfl/conv/Conv"),
        n("Mul", ["ltrb", "stride"], ["box"], name="head/Mul"),
        n("Sigmoid", ["cls_raw"], ["scores"], name="head/Sigmoid"),
        n("Concat", ["box", "scores"], ["out"], name="head/Concat", axis=1),
    ]
    return helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
    )


def test_decode_tail_stops_at_the_branch_convolutions():
    tail = decode_tail(head_graph())
    assert set(tail) == {"head/Concat", "head/Sigmoid", "head/Mul", "head/dfl/conv/Conv", "head/dfl/Softmax"}


def test_input_stem_is_the_first_convolution_and_its_activation():
    assert set(input_stem(head_graph())) == {"stem/Conv", "stem/Sigmoid", "stem/Mul"}


def test_calibration_tensors_are_letterboxed_rgb_nchw(tmp_path):
    pixels = np.zeros((300, 450, 3), dtype=np.uint8)
    pixels[..., 0] = 255  # pure red
    path = tmp_path / "red.png"
    Image.fromarray(pixels).save(path)
    (tensor,) = list(calibration_batches([path], (320, 448)))
    assert tensor.shape == (1, 3, 320, 448) and tensor.dtype == np.float32
    assert tensor[0, 0, 160, 224] == 1.0 and tensor[0, 1, 160, 224] == 0.0  # red stays in channel 0
    assert np.isclose(tensor[0, :, 0, 0], 114 / 255).all()  # grey padding on top


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"quant_format": "qint"}, "format 'qint'"),
        ({"activations": "int4"}, "activations 'int4'"),
        ({"method": "median"}, "unknown calibration method"),
    ],
)
def test_unknown_int8_settings_are_refused_before_any_work(tmp_path, options, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        quantize_int8(tmp_path / "missing.onnx", tmp_path / "out.onnx", [b"x"], input_hw=(8, 8), **options)


def test_a_decode_tail_read_by_a_matmul_is_found_as_well():
    """After graph_rewrite the DFL sum is a MatMul fed by the softmax: it stays in float too."""
    graph = head_graph()
    for node in graph.node:
        if node.name == "head/dfl/conv/Conv":
            node.op_type = "MatMul"
    assert {"head/dfl/Softmax", "head/dfl/conv/Conv", "head/Concat"} <= set(decode_tail(graph))
