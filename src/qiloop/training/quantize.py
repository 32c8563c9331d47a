"""INT8 models: ONNX Runtime static quantisation, calibrated on letterboxed training images.

Calibration images are pre-processed exactly as the device does it
(:func:`qiloop.edge.runtime.preprocess.letterbox`: letterbox to the input size
with grey 114, RGB, /255, NCHW float32), so the activation ranges are those
the model meets in service. The format is QDQ (quantise/dequantise pairs around
INT8 operators), which every ONNX Runtime execution provider reads.

The detection head's decode tail (the distribution-focal-loss softmax, the box
arithmetic in input pixels and the final concat of boxes with class scores)
stays in float: that concat joins values up to the input size with scores in
[0, 1], and one INT8 scale for both wipes out the scores.

The stem, the first convolution and its activation, also stays in float: it
reads raw pixels, and its quantisation error reaches every later layer.

Measured on the real metal-tag test split (yolov8n trained 60 epochs, 320 x 448
input, 64 calibration images; FP32 ONNX mAP50 0.804): head kept in float with
per-tensor weight scales 0.799; per-channel scales 0.786; head quantised
0.000 either way (200 synthetic images agree: 0.293 / 0.231 / 0.000 against
FP32 0.292). Weights are therefore per-tensor by default. On a model trained
longer (90 epochs, FP32 0.815 at NMS IoU 0.7), everything but the decode tail
in INT8 lost 0.040 mAP50 with any calibration (64 or 141 images, min-max or
percentile ranges, per-tensor or per-channel: -0.028 to -0.055); the stem in
float as well lost 0.003, at about the same speed (34.5 vs 32.7 ms, FP32 84 ms
on the same loaded cores; ``benchmarks/int8_variants.py``).

The layout, measured on this machine's CPU (AMD Zen 3 as the VM shows it: AVX2
and FMA, no AVX-512 and no VNNI), with the model's DFL softmax rewritten
(:mod:`qiloop.training.graph_rewrite`): QDQ and QOperator models run equally
fast (ONNX Runtime folds the QDQ pairs into the same QLinearConv, QLinearSigmoid
and QLinearMul kernels); uint8 activations with int8 weights are 2.5x faster
than int8 x int8, which AVX2 has no instruction for; per-channel weights change
nothing measurable in speed. On a real-photo model (17 epochs, FP32 mAP50
0.833 on the 209 labelled photos) the default here lost 0.003 mAP50,
7-bit weights (``reduce_range``, against the saturation of AVX2's 16-bit
u8 x s8 sums) 0.005, per-channel weights 0.008 (with 7-bit weights too), and
percentile ranges gained 0.002: within the spread between checkpoints, so the
defaults stay.

Where the INT8 forward pass goes (``benchmarks/int8_profile.py``: yolov8n at
320x448, 1 thread, ONNX Runtime 1.32, on a VM that shows AVX-512 VNNI, CPU time
per pass so that a loaded machine still compares): FP32 15.5 ms, INT8 8.4 ms,
of which the integer convolutions take 47 %, the SiLU activations 29 %
(QLinearSigmoid and QLinearMul: ONNX Runtime has no fused integer SiLU), the
concats 6 %, the float stem 4 % and the two upsamplings 3 %. In the same run:
QOperator 8.3 ms and per-channel weights 8.4 (no change); the stem in INT8 8.95
(a 3-channel QLinearConv is slow); the SiLU left in float 9.5 (a
DequantizeLinear/QuantizeLinear pair around each); int8 activations 27.5
(ONNX Runtime fuses no s8 x s8 convolution here, so every convolution runs in
float between QDQ pairs); each SiLU as one 256-entry table lookup (Cast and
Gather, the same outputs) 20.7. The defaults stay.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qiloop.core.errors import ConfigurationError, require


def input_stem(graph) -> list[str]:
    """Names of the first convolution fed by the graph input and of its activation (up to the next convolution).

    The stem sees raw pixels, whose quantisation error every later layer inherits;
    it is one of 60-odd convolutions, so keeping it in float costs little time.
    """
    inputs = {i.name for i in graph.input}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    first = next((n for n in graph.node if n.op_type == "Conv" and n.input and n.input[0] in inputs), None)
    if first is None:
        return []
    stem: dict[str, None] = {first.name: None}
    stack = list(first.output)
    while stack:
        for node in consumers.get(stack.pop(), []):
            if node.op_type != "Conv" and node.name not in stem:
                stem[node.name] = None
                stack.extend(node.output)
    return list(stem)


def decode_tail(graph) -> list[str]:
    """Names of the nodes between the head's last feature convolutions and the graph output.

    Walks back from each output and stops at a convolution that is fed by
    anything but a softmax (the distribution-focal-loss convolution has fixed
    weights and belongs to the decode; the branch convolutions do not).
    """
    producer = {out: node for node in graph.node for out in node.output}
    tail: dict[str, None] = {}
    stack = [o.name for o in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in tail:
            continue
        if node.op_type == "Conv" and not any(
            getattr(producer.get(i), "op_type", "") == "Softmax" for i in node.input[:1]
        ):
            continue
        tail[node.name] = None
        stack.extend(node.input)
    return list(tail)


def calibration_batches(images: Sequence[Any], input_hw: tuple[int, int]) -> Iterator[np.ndarray]:
    """Each image as the ``(1, 3, h, w)`` float32 tensor the device feeds the model."""
    from qiloop.edge.runtime.preprocess import letterbox

    for image in images:
        tensor, _, _ = letterbox(image, input_hw)
        yield np.ascontiguousarray(tensor, dtype=np.float32)


def quantize_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    calibration_images: Sequence[Any],
    *,
    input_hw: tuple[int, int],
    keep_head_float: bool = True,
    keep_stem_float: bool = True,
    per_channel: bool = False,
    method: str = "minmax",
    float_prefixes: Sequence[str] = (),
    quant_format: str = "qdq",
    activations: str = "uint8",
    reduce_range: bool = False,
) -> Path:
    """Write a statically quantised INT8 (QDQ) copy of ``fp32_path`` to ``out_path``.

    Args:
        fp32_path: the FP32 ONNX model (fixed input size).
        out_path: where the INT8 model goes.
        calibration_images: paths, bytes or RGB arrays of training images (a few dozen suffice).
        input_hw: the model's input ``(height, width)``.
        keep_head_float: leave :func:`decode_tail` in float (see the module notes).
        keep_stem_float: leave :func:`input_stem` in float (see the module notes).
        per_channel: one weight scale per output channel (measured worse here; see the module notes).
        method: how activation ranges are chosen from the calibration images: ``minmax`` (the
            extremes), ``percentile`` (99.999th percentile, clipping rare outliers) or ``entropy``.
        float_prefixes: also keep in float every node whose name starts with one of these
            (e.g. ``/model.22/`` for the whole detection head).
        quant_format: ``qdq`` (quantise/dequantise pairs that ONNX Runtime folds into INT8
            operators when it loads the model) or ``qoperator`` (the INT8 operators written out).
        activations: ``uint8`` (with int8 weights: the u8 x s8 products x86 multiplies
            natively, VNNI or not) or ``int8`` (s8 x s8, for ARM and other providers).
        reduce_range: 7-bit weights, for CPUs without VNNI whose u8 x s8 instruction
            can saturate its 16-bit sums.
    """
    methods = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}
    if method not in methods:
        raise ConfigurationError(f"unknown calibration method {method!r}", hint=f"use one of {', '.join(methods)}")
    formats = {"qdq": "QDQ", "qoperator": "QOperator"}
    types = {"uint8": "QUInt8", "int8": "QInt8"}
    if quant_format not in formats or activations not in types:
        raise ConfigurationError(
            f"unknown INT8 layout: format {quant_format!r}, activations {activations!r}",
            hint=f"format one of {', '.join(formats)}; activations one of {', '.join(types)}",
        )
    if not calibration_images:
        raise ConfigurationError("INT8 quantisation needs calibration images", hint="pass some training images")
    onnx = require("onnx", "train")
    quantization = require("onnxruntime.quantization", "train")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    with tempfile.TemporaryDirectory(prefix="qiloop-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared))  # node names as the quantiser sees them
        input_name = model.graph.input[0].name
        excluded = decode_tail(model.graph) if keep_head_float else []
        excluded += input_stem(model.graph) if keep_stem_float else []
        excluded += [n.name for n in model.graph.node if n.name.startswith(tuple(float_prefixes))]
        reader = _Reader(
            quantization.CalibrationDataReader, input_name, calibration_batches(calibration_images, input_hw)
        )
        quantization.quantize_static(
            str(prepared),
            str(out_path),
            reader,
            quant_format=getattr(quantization.QuantFormat, formats[quant_format]),
            activation_type=getattr(quantization.QuantType, types[activations]),
            weight_type=quantization.QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=reduce_range,
            calibrate_method=getattr(quantization.CalibrationMethod, methods[method]),
            nodes_to_exclude=excluded,
        )
    return out_path


def _Reader(base: type, input_name: str, batches: Iterator[np.ndarray]):
    """A ``CalibrationDataReader`` over ``batches`` (the base class comes from the lazy import)."""

    class Reader(base):
        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(batches, None)
            return None if batch is None else {input_name: batch}

    return Reader()
