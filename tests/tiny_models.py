"""A tiny ONNX detector with YOLOv8's input and output layout, for tests on an ``[edge]``-only install.

The graph is written with ``onnx.helper``: the image (``1x3xHxW``, values in 0..1) is
average-pooled at strides 8, 16 and 32, a 1x1 convolution per stride gives ``4 + classes``
channels per cell, and a sigmoid scaled per row turns them into what YOLOv8 exports,
``1 x (4 + classes) x anchors``: box centre and size in input pixels, then class scores.
Scores follow the image, so detections vary from photo to photo like a model's do.

``onnx`` belongs to the train extra, not to ``[edge]``. So the few models the tests use
are kept as files in ``tests/data/tiny-yolo/`` (a few KB each) and read from there;
``python tests/tiny_models.py`` rewrites them, and ``tests/unit/suite/test_tiny_models.py``
checks, where ``onnx`` is installed, that the files are what this code builds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "tiny-yolo"
STRIDES = (8, 16, 32)
KEPT = {(64, 96, 1, seed) for seed in (0, 1)}  # (height, width, classes, seed) of the kept files
OPSET, IR_VERSION = 17, 8  # fixed, so the bytes do not change with the onnx version


def kept_name(input_size: tuple[int, int], classes: int, seed: int, *, int8: bool = False) -> str:
    h, w = input_size
    return f"yolo-{h}x{w}-c{classes}-s{seed}{'.int8' if int8 else ''}.onnx"


def tiny_yolo_model(input_size: tuple[int, int], *, classes: int = 1, seed: int = 0):
    """The ``onnx.ModelProto`` of a tiny detector at ``input_size`` (h, w) with ``classes`` classes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h, w = input_size
    if h % 32 or w % 32:
        raise ValueError(f"the input size must be a multiple of 32, got {h}x{w}")
    rng = np.random.default_rng(seed)
    rows = 4 + classes
    nodes, inits, pieces, scale, offset = [], [], [], [], []
    for s in STRIDES:
        gh, gw = h // s, w // s
        weight = rng.normal(0.0, 8.0, (rows, 3, 1, 1)).astype(np.float32)  # scores spread from ~0 to ~1
        bias = -weight.sum(axis=(1, 2, 3)) * 0.5 + rng.normal(0.0, 0.5, rows) - np.r_[[0.0] * 4, [2.5] * classes]
        inits += [numpy_helper.from_array(weight, f"w{s}"), numpy_helper.from_array(bias.astype(np.float32), f"b{s}")]
        inits.append(numpy_helper.from_array(np.array([1, rows, gh * gw], np.int64), f"shape{s}"))
        nodes += [
            helper.make_node("AveragePool", ["images"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]),
            helper.make_node("Conv", [f"pool{s}", f"w{s}", f"b{s}"], [f"conv{s}"]),
            helper.make_node("Reshape", [f"conv{s}", f"shape{s}"], [f"flat{s}"]),
        ]
        pieces.append(f"flat{s}")
        ys, xs = np.mgrid[0:gh, 0:gw]
        cx, cy = ((xs + 0.5) * s).ravel(), ((ys + 0.5) * s).ravel()
        n = gh * gw
        scale.append(np.r_[[np.full(n, s)] * 2, [np.full(n, 4.0 * s)] * 2, [np.ones(n)] * classes])
        offset.append(np.r_[[cx - s / 2, cy - s / 2], [np.zeros(n)] * (2 + classes)])
    inits.append(numpy_helper.from_array(np.concatenate(scale, axis=1)[None].astype(np.float32), "scale"))
    inits.append(numpy_helper.from_array(np.concatenate(offset, axis=1)[None].astype(np.float32), "offset"))
    nodes += [
        helper.make_node("Concat", pieces, ["raw"], axis=2),
        helper.make_node("Sigmoid", ["raw"], ["unit"]),
        helper.make_node("Mul", ["unit", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "offset"], ["output0"]),
    ]
    anchors = sum((h // s) * (w // s) for s in STRIDES)
    graph = helper.make_graph(
        nodes,
        "tiny-yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, rows, anchors])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="qiloop-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def write_models(folder: Path, input_size: tuple[int, int], classes: int, seed: int) -> tuple[Path, Path]:
    """Build the FP32 model and its dynamically quantised INT8 twin in ``folder``; both paths."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / kept_name(input_size, classes, seed), folder / kept_name(input_size, classes, seed, int8=True)
    fp32.write_bytes(tiny_yolo_model(input_size, classes=classes, seed=seed).SerializeToString())
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QUInt8)
    return fp32, int8


def tiny_package(
    folder: Path,
    input_size: tuple[int, int] = (64, 96),
    *,
    classes: tuple[str, ...] = ("scratch",),
    seed: int = 0,
    int8: bool = False,
    **manifest,
) -> Path:
    """A model package of the tiny detector: kept files when there are some, else built (needs onnx)."""
    from qiloop.core.package import write_manifest

    folder.mkdir(parents=True, exist_ok=True)
    if (*input_size, len(classes), seed) in KEPT:
        source = DATA
    else:  # not kept: build it, which needs onnx (the train extra)
        import pytest

        pytest.importorskip("onnx", reason="a tiny model of another size needs onnx (the train extra)")
        source = folder.parent / f"{folder.name}-build"
        write_models(source, input_size, len(classes), seed)
    shutil.copyfile(source / kept_name(input_size, len(classes), seed), folder / "model.onnx")
    if int8:
        shutil.copyfile(source / kept_name(input_size, len(classes), seed, int8=True), folder / "model.int8.onnx")
    manifest.setdefault("name", "test-detector")
    manifest.setdefault("version", "1")
    write_manifest(folder, classes=list(classes), input_height=input_size[0], input_width=input_size[1], **manifest)
    return folder


if __name__ == "__main__":  # rewrite the kept files: python tests/tiny_models.py
    for h, w, c, s in sorted(KEPT):
        for path in write_models(DATA, (h, w), c, s):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
