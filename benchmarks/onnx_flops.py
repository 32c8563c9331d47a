"""The compute floor of a model: its FLOPs from the ONNX graph over this CPU's sgemm throughput.

A convolution runs as a matrix product at best, so no runtime can do a model's
multiply-adds faster than the CPU multiplies large float32 matrices. The floor
is therefore ``FLOPs / sgemm FLOP/s`` on the same number of threads.

- FLOPs: ``2 x`` multiply-accumulates of every ``Conv``, ``ConvTranspose``,
  ``MatMul`` and ``Gemm`` node, with tensor shapes from ``onnx.shape_inference``
  (element-wise work, resizes and pooling are left out: they are memory-bound
  and small beside the convolutions).
- sgemm: NumPy float32 ``A @ B`` of large square matrices, in a fresh process
  with its BLAS limited to the requested threads and pinned to as many cores.
- both rates: the best of many products of 1024 x 1024 matrices over at least 3 s, and the load
  average is printed with a warning when the machine was busy (a busy machine gives a lower rate,
  so a higher floor, than the CPU can do);
- int8: ONNX Runtime's own ``MatMulInteger`` (uint8 activations x int8 weights,
  int32 sums: the kernel its quantised convolutions run on) on large square
  matrices, same pinning. An INT8 model's floor is its quantised convolutions'
  operations at that rate plus the ones left in float at the sgemm rate
  (:func:`int8_split`).

Run: ``python benchmarks/onnx_flops.py MODEL.onnx [--threads 1] [--int8]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from math import prod
from pathlib import Path

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _shapes(model) -> dict[str, list[int]]:
    """Static shapes of every tensor the graph names (inputs, outputs, initialisers, inferred values)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    shapes: dict[str, list[int]] = {t.name: list(t.dims) for t in graph.initializer}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        dims = info.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = [d.dim_value for d in dims]
    return shapes


def _attribute(node, name: str, default: int) -> int:
    return next((int(a.i) for a in node.attribute if a.name == name), default)


def node_macs(node, shapes: dict[str, list[int]]) -> int:
    """Multiply-accumulates of one node (0 for operators that are not matrix products).

    Raises:
        ValueError: A matrix-product node whose shapes shape inference could not fix.
    """
    op = node.op_type
    if op not in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
        return 0
    missing = [n for n in (*node.input[:2], node.output[0]) if n not in shapes]
    if missing:
        raise ValueError(f"{op} node {node.name!r}: no static shape for {missing}")
    a, b, out = shapes[node.input[0]], shapes[node.input[1]], shapes[node.output[0]]
    if op == "Conv":  # weight (M, C/group, kh, kw): each output element takes C/group * kh * kw MACs
        return prod(out) * prod(b[1:])
    if op == "ConvTranspose":  # weight (C, M/group, kh, kw): each input element spreads over M/group * kh * kw
        return prod(a) * prod(b[1:])
    if op == "Gemm":
        k = a[0] if _attribute(node, "transA", 0) else a[1]
        return prod(out) * k
    return prod(out) * a[-1]  # MatMul: (..., n, k) @ (..., k, m)


def count_flops(path: str | Path) -> dict:
    """FLOPs of an ONNX model: ``{"gflop": total, "by_op": {op: gflop}, "nodes": {op: count}}``."""
    import onnx

    model = onnx.load(str(path))
    shapes = _shapes(model)
    by_op: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    for node in model.graph.node:
        macs = node_macs(node, shapes)
        if macs:
            by_op[node.op_type] += 2 * macs
            nodes[node.op_type] += 1
    return {
        "gflop": sum(by_op.values()) / 1e9,
        "by_op": {k: v / 1e9 for k, v in by_op.items()},
        "nodes": dict(nodes),
    }


def int8_split(path: str | Path) -> dict:
    """GFLOP of a QDQ model's convolutions that run in INT8 (weights from ``DequantizeLinear``) and in float."""
    import onnx

    model = onnx.load(str(path))
    shapes = _shapes(model)
    producer = {out: node for node in model.graph.node for out in node.output}
    split = {"int8": 0.0, "float": 0.0}
    for node in model.graph.node:
        macs = node_macs(node, shapes)
        if not macs:
            continue
        weight = producer.get(node.input[1])
        quantised = weight is not None and weight.op_type == "DequantizeLinear"
        split["int8" if quantised else "float"] += 2 * macs / 1e9
    return split


def _int8_child(size: int, repeats: int, min_s: float) -> None:
    import time

    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
        "int8-gemm",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size]),
         helper.make_tensor_value_info("b", TensorProto.INT8, [size, size])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [size, size])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)  # IR 8: any runtime
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {"a": rng.integers(0, 256, (size, size), dtype=np.uint8),
             "b": rng.integers(-128, 128, (size, size), dtype=np.int8)}  # fmt: skip
    session.run(None, feeds)
    rates, until = [], time.perf_counter() + min_s
    while len(rates) < repeats or time.perf_counter() < until:
        started = time.perf_counter()
        session.run(None, feeds)
        rates.append(2 * size**3 / (time.perf_counter() - started) / 1e9)
    print(json.dumps({"rates": rates}))


def int8_gops(threads: int = 1, *, size: int = 1024, repeats: int = 10, min_s: float = 3.0) -> dict:
    """ONNX Runtime's uint8 x int8 matrix-product throughput in GOP/s on ``threads`` pinned cores.

    Products of ``size`` (1024: a few ms each, so some land between other processes' slices on a
    busy machine) repeated for at least ``min_s`` seconds; the peak is the figure to use.
    Returns ``{"peak", "median", "samples", "load", "threads", "size"}`` (``load``: the 1-minute
    load average when it started).
    """
    return _rate_in_child("_int8_child", threads, size, repeats, min_s)


def _sgemm_child(size: int, repeats: int, min_s: float) -> None:
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.random((size, size), np.float32), rng.random((size, size), np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm up: page in, pick the kernel
    rates, until = [], time.perf_counter() + min_s
    while len(rates) < repeats or time.perf_counter() < until:
        started = time.perf_counter()
        np.matmul(a, b, out=out)
        rates.append(2 * size**3 / (time.perf_counter() - started) / 1e9)
    print(json.dumps({"rates": rates}))


def sgemm_gflops(threads: int = 1, *, size: int = 1024, repeats: int = 20, min_s: float = 3.0) -> dict:
    """float32 matrix-product throughput in GFLOP/s on ``threads`` pinned cores (a fresh process).

    Sampled as :func:`int8_gops` is; returns the same keys.
    """
    return _rate_in_child("_sgemm_child", threads, size, repeats, min_s)


def busy_warning(rate: dict) -> str:
    """A line saying the rate was measured on a busy machine (so the floor is too high), or ``""``."""
    if rate["load"] < 0.5:
        return ""
    return (f"warning: load {rate['load']:.1f} while measuring: the peak of {rate['samples']} samples is the best "
            "this machine gave, and its floor an upper bound; measure on a quiet machine")  # fmt: skip


def _rate_in_child(child: str, threads: int, size: int, repeats: int, min_s: float) -> dict:
    import statistics

    env = {**os.environ, **dict.fromkeys(BLAS_ENV, str(threads))}
    cores = sorted(os.sched_getaffinity(0))[:threads]
    code = (
        f"import os, sys; os.sched_setaffinity(0, {cores!r}); sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import onnx_flops; onnx_flops.{child}({size}, {repeats}, {min_s})"
    )
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    rates = json.loads(done.stdout.strip().splitlines()[-1])["rates"]
    return {"peak": max(rates), "median": statistics.median(rates), "samples": len(rates), "load": load,
            "threads": threads, "size": size}  # fmt: skip


def ultralytics_gflops(weights: str | Path, input_hw: tuple[int, int]) -> float | None:
    """ultralytics' own GFLOPs figure for ``weights`` at ``input_hw`` (None when it cannot count)."""
    from qiloop.training import ultralytics_adapter as adapter

    yolo = adapter.ultralytics()
    from ultralytics.utils.torch_utils import get_flops

    model = yolo.YOLO(str(weights), task="detect").model
    flops = get_flops(model, imgsz=list(input_hw))
    return float(flops) if flops else None


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="an ONNX model with static input shape")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--int8", action="store_true", help="a QDQ INT8 model: also its int8 floor")
    args = parser.parse_args(argv)
    flops = count_flops(args.model)
    rate = sgemm_gflops(args.threads)
    print(f"{args.model}: {flops['gflop']:.3f} GFLOP ({flops['nodes']})")
    print(f"sgemm on {args.threads} thread(s): peak {rate['peak']:.1f} GFLOP/s, median {rate['median']:.1f}")
    print(f"floor: {flops['gflop'] / rate['peak'] * 1e3:.1f} ms per image")
    if busy_warning(rate):
        print(busy_warning(rate))
    if args.int8:
        split, irate = int8_split(args.model), int8_gops(args.threads)
        floor = split["int8"] / irate["peak"] + split["float"] / rate["peak"]
        print(f"int8 GEMM (ONNX Runtime MatMulInteger u8 x s8): peak {irate['peak']:.1f} GOP/s, "
              f"median {irate['median']:.1f}")  # fmt: skip
        print(f"INT8 floor: {split['int8']:.3f} GOP in int8 + {split['float']:.3f} GFLOP in float = "
              f"{floor * 1e3:.1f} ms per image")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
