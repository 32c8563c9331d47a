"""Where the INT8 model's time goes against FP32: the steps of an image, operator types, quantiser variants.

All in one process pinned to one core, ONNX Runtime on 1 thread, configurations
interleaved round by round, so a load spike from another process hits them alike:

1. steps: each image's JPEG decode, letterbox, forward pass and post-processing
   through the edge runtime's own functions, FP32 and INT8 on the same images;
2. operator types: ONNX Runtime's profiler (``SessionOptions.enable_profiling``)
   adds up each node's kernel time by operator type; the shares hold on a loaded
   machine better than milliseconds do;
3. variants: the package's ``model.onnx`` quantised with other settings of
   :func:`qiloop.training.quantize.quantize_int8` (``--variants``), each forward
   pass timed next to the package's two models.

Every time is given as wall-clock and as the process's CPU time, which does not
grow while another process holds the core.

Run: ``python benchmarks/int8_profile.py [--weights best.pt] [--images 20] [--rounds 5] [--variants all]``.
Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import edge_models
from silu_table import silu_as_table as silu_table

VARIANTS = {  # quantize_int8 keywords; "silu-float" and "resize-float" get their node names from the graph,
    # "silu-table" is the package's INT8 model rewritten by silu_table.py
    "qoperator": {"quant_format": "qoperator"},
    "per-channel": {"per_channel": True},
    "int8-activations": {"activations": "int8"},
    "stem-int8": {"keep_stem_float": False},
    "silu-float": {},
    "resize-float": {},
    "silu-table": None,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, help="a .pt (default: the seeded untrained yolov8n of edge_models)")
    p.add_argument("--images", type=int, default=20, help="real photos per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--variants", nargs="*", default=[], help=f"'all' or some of: {', '.join(VARIANTS)}")
    return p.parse_args(argv)


def float_nodes(model_path: Path, variant: str) -> list[str]:
    """Node names to keep in float for the ``silu-float`` and ``resize-float`` variants."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    if variant == "resize-float":
        return [n.name for n in graph.node if n.op_type == "Resize"]
    producer = {out: node for node in graph.node for out in node.output}
    names = []
    for node in graph.node:  # SiLU: Mul(x, Sigmoid(x))
        sigmoid = next((producer[i] for i in node.input if getattr(producer.get(i), "op_type", "") == "Sigmoid"), None)
        if node.op_type == "Mul" and sigmoid is not None and sigmoid.input[0] in node.input:
            names += [sigmoid.name, node.name]
    return names


STEPS = ("decode JPEG", "letterbox", "forward", "post-process")


def timed(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, its wall and CPU milliseconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def profile_by_op(model: Path, tensors: list, repeats: int = 3) -> tuple[dict[str, float], int]:
    """Kernel milliseconds per run by operator type from ONNX Runtime's profiler, and the number of nodes.

    Each node counts with its median over the runs, so a run that another process
    interrupted does not charge its wait to whichever node it fell in.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "profile")
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for tensor in tensors * repeats:
        session.run(None, {name: tensor})
    events = json.loads(Path(session.end_profiling()).read_text())
    durations, ops = collections.defaultdict(list), {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            durations[e["name"]].append(e["dur"] / 1e3)
            ops[e["name"]] = e["args"]["op_name"]
    by_op: dict[str, float] = collections.Counter()
    for node, values in durations.items():
        by_op[ops[node]] += statistics.median(values)
    return dict(by_op), len(durations)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
    from qiloop.edge.runtime import OnnxDetector
    from qiloop.edge.runtime.postprocess import decode
    from qiloop.edge.runtime.preprocess import Letterboxer, read_rgb
    from qiloop.edge.runtime.session import build_session
    from qiloop.training.quantize import quantize_int8

    models = edge_models.prepare(args.weights)
    paths, _ = edge_models.bench_images(args.images)
    images = edge_models.jpeg_bytes(paths)
    print(f"{len(images)} photos, {models.weights}; load before {os.getloadavg()}", flush=True)
    detectors = {p: OnnxDetector.from_package(models.package, threads=1, int8=p == "int8") for p in ("fp32", "int8")}
    letterbox = Letterboxer(detectors["fp32"].input_size)
    tensors = [letterbox(read_rgb(data)[0])[0].copy() for data in images]
    variants = list(VARIANTS) if args.variants == ["all"] else args.variants
    sessions = {"fp32": detectors["fp32"].session, "int8": detectors["int8"].session}
    work = Path(tempfile.mkdtemp(prefix="qiloop-int8-profile-"))
    for variant in variants:
        if VARIANTS[variant] is None:
            silu_table(models.package / "model.int8.onnx", work / f"{variant}.onnx")
            sessions[variant] = build_session(work / f"{variant}.onnx", threads=1)
            continue
        keywords = dict(VARIANTS[variant])
        if variant in ("silu-float", "resize-float"):
            keywords["float_prefixes"] = float_nodes(models.package / "model.onnx", variant)
        quantize_int8(models.package / "model.onnx", work / f"{variant}.onnx", edge_models.calibration_images(),
                      input_hw=edge_models.INPUT_HW, **keywords)  # fmt: skip
        sessions[variant] = build_session(work / f"{variant}.onnx", threads=1)
    steps = {p: collections.defaultdict(list) for p in detectors}
    forward = {k: ([], []) for k in sessions}
    outputs: dict[str, list] = {k: [] for k in sessions}
    for _ in range(args.rounds):
        for precision, detector in detectors.items():
            for data in images:
                (rgb, size), *read = timed(read_rgb, data, detector.input_size)
                (tensor, box), *pre = timed(letterbox, rgb, size)
                output, *fwd = timed(detector.forward, tensor)
                _, *post = timed(decode, output, ratio=box.ratio, pad=box.pad, image_size=size)
                for step, ms in zip(STEPS, (read, pre, fwd, post), strict=True):
                    steps[precision][step].append(ms)
        for key, session in sessions.items():
            name = session.get_inputs()[0].name
            for tensor in tensors:
                (output, *_), wall, cpu = timed(session.run, None, {name: tensor})
                if len(outputs[key]) < len(tensors):
                    outputs[key].append(output)
                forward[key][0].append(wall)
                forward[key][1].append(cpu)
    print(f"load after the timed rounds {os.getloadavg()}")
    med = statistics.median
    print(f"\nsteps per image, median ms wall / CPU, 1 thread\n  {'step':<14}{'FP32':>16}{'INT8':>16}")
    for step in steps["fp32"]:
        cells = "".join(f"{med(w for w, _ in steps[p][step]):>9.2f} /{med(c for _, c in steps[p][step]):>5.2f}"
                        for p in ("fp32", "int8"))  # fmt: skip
        print(f"  {step:<14}{cells}")
    print("\nforward pass, median ms wall / CPU, interleaved; largest score difference from the package's INT8 model")
    for key, (wall, cpu) in forward.items():
        diff = max(float(abs(a[:, 4:] - b[:, 4:]).max()) for a, b in zip(outputs[key], outputs["int8"], strict=True))
        print(f"  {key:<18}{med(wall):>8.2f} /{med(cpu):>6.2f}  ({med(cpu) / med(forward['fp32'][1]):.2f}x FP32 CPU)"
              f"  {diff:.4f}")  # fmt: skip
    print("\nkernel time by operator type (ONNX Runtime profiler), ms per run and share")
    for key in sessions:
        model = {"fp32": models.package / "model.onnx", "int8": models.package / "model.int8.onnx"}.get(
            key, work / f"{key}.onnx"
        )
        by_op, nodes = profile_by_op(model, tensors)
        total = sum(by_op.values())
        ops = ", ".join(f"{op} {ms:.2f} ({ms / total:.0%})" for op, ms in sorted(by_op.items(), key=lambda x: -x[1]))
        print(f"  {key}: {total:.2f} ms in {nodes} nodes: {ops}")
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main(sys.argv[1:])
