"""An experiment for ``int8_profile.py``: each quantised SiLU of a QDQ model as one 256-entry table lookup.

In a QDQ model a SiLU is ``DQ(x) -> Sigmoid -> Q -> DQ -> Mul(DQ(x), .) -> Q``,
which ONNX Runtime runs as QLinearSigmoid and QLinearMul. Its input is one
uint8 tensor, so the whole block is a function of 256 values: here it becomes
``Cast(x, int32) -> Gather(table)``, with the table computed through the very
same quantisation steps (the outputs are identical). It measures whether ONNX
Runtime's standard operators can do the lookup faster than its two kernels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _lookup(zc: int, sc: float, zs: int, ss: float, zm: int, sm: float) -> np.ndarray:
    """``Q_m(DQ_c(q) * DQ_s(Q_s(sigmoid(DQ_c(q)))))`` for every uint8 ``q``."""
    x = (np.arange(256, dtype=np.float32) - zc) * np.float32(sc)
    s = (np.clip(np.rint((1 / (1 + np.exp(-x))) / np.float32(ss)) + zs, 0, 255) - zs) * np.float32(ss)
    return np.clip(np.rint(x * s / np.float32(sm)) + zm, 0, 255).astype(np.uint8)


def silu_as_table(source: Path, target: Path) -> int:
    """Write ``source`` (a QDQ model) to ``target`` with its SiLU blocks as lookups; how many were replaced."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    value = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    dropped, inserted = set(), {}
    for mul in (n for n in graph.node if n.op_type == "Mul"):
        dq_x, dq_s = (producer.get(i) for i in mul.input)
        if getattr(dq_s, "op_type", "") != "DequantizeLinear" or getattr(dq_x, "op_type", "") != "DequantizeLinear":
            continue
        q_s = producer.get(dq_s.input[0])
        sigmoid = producer.get(q_s.input[0]) if q_s is not None else None
        after = readers.get(mul.output[0], [])
        if (
            getattr(sigmoid, "op_type", "") != "Sigmoid"
            or sigmoid.input[0] != dq_x.output[0]
            or len(after) != 1
            or after[0].op_type != "QuantizeLinear"
            or {n.name for n in readers[dq_x.output[0]]} != {sigmoid.name, mul.name}
        ):
            continue
        q_m = after[0]
        params = [p for node in (dq_x, q_s, q_m) for p in (int(value[node.input[2]]), float(value[node.input[1]]))]
        table = numpy_helper.from_array(_lookup(*params), f"{mul.name}/silu_table")
        graph.initializer.append(table)
        index = f"{mul.name}/silu_index"
        inserted[q_m.name] = [
            helper.make_node("Cast", [dq_x.input[0]], [index], name=f"{mul.name}/silu_cast", to=TensorProto.INT32),
            helper.make_node("Gather", [table.name, index], [q_m.output[0]], name=f"{mul.name}/silu_lookup", axis=0),
        ]
        dropped |= {dq_x.name, sigmoid.name, q_s.name, dq_s.name, mul.name}
    nodes = [m for n in graph.node if n.name not in dropped for m in inserted.get(n.name, [n])]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return len(inserted)
