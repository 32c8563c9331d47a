"""Latency per image on the device: qiloop's edge runtime against the reference path, and the floor.

1. The same images, end to end (JPEG bytes in memory -> decode -> detections;
   reading the file is not timed, decoding is, for both):
   - ours: ``OnnxDetector`` on a package exported at the aspect-true 448x320;
   - reference: ultralytics ``YOLO("model.onnx", task="detect").predict(image)``
     on the same weights exported square at 448 (as the reference application
     did), the JPEG decoded by OpenCV as ultralytics itself reads files;
   each at FP32 and INT8 (both statically quantised the same way), with 1 and 2
   threads: every configuration runs in its own process pinned to that many
   cores (``os.sched_setaffinity``) with ONNX Runtime's intra-op threads and the
   BLAS/OpenMP variables set to match. ultralytics exposes no thread setting
   and pinning does not hold its session (ONNX Runtime's default pool pins its
   own workers to every core), so the worker gives the sessions ultralytics
   creates the same intra-op thread count. Configurations alternate over ``--rounds``
   so a load spike from another process hits all of them alike. Each image's time
   splits into the forward pass (the sessions' ``run``) and the rest, in wall and
   in CPU time (:class:`edge_latency_worker.TimedSession`).
2. The floors: the FP32 model's FLOPs counted from the ONNX graph over this
   CPU's single-thread sgemm throughput, and the INT8 model's operations (its
   quantised convolutions at ONNX Runtime's measured uint8 x int8 matrix-product
   throughput, the few left in float at the sgemm rate; :mod:`onnx_flops`).
3. With ``--weights`` of a trained model: mAP50 of the package's INT8 model
   against its FP32 model on the real labels.

Run: ``python benchmarks/bench_edge_latency.py [--weights best.pt] [--package DIR] [--rounds 3]``.
Outputs go to ``benchmarks/out/``. Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import edge_latency_worker as worker
import edge_models
import onnx_flops

OUT = edge_models.REPO / "benchmarks" / "out"
FINAL = """\
The goals' measurement (a quiet machine; about 25 minutes for 209 photos):
  YOLO_OFFLINE=1 .venv/bin/python benchmarks/bench_edge_latency.py \\
      --weights /tmp/realmodel/best.pt --threads 1 --rounds 3
  YOLO_OFFLINE=1 .venv/bin/python benchmarks/bench_edge_footprint.py --repeats 5
A quick look while developing: --images 60 --rounds 2 --threads 1 (untrained weights: no mAP).
Goals, per image on 1 thread, same run: ours FP32 >= 1.4x and ours INT8 >= 3x faster than the
reference path (ultralytics predict on the square FP32 export); INT8 mAP50 within 0.02 of FP32."""
# CPU ms: the process's CPU time per image (all its threads): unlike wall time it does not grow
# while another process holds the core, so it shows how much of a slow round was the machine's load.
GOALS = {"fp32": 1.4, "int8": 3.0, "floor": 1.6, "map_drop": 0.02}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog=FINAL, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--weights", type=Path, help="trained best.pt (default: an untrained seeded yolov8n)")
    p.add_argument("--package", type=Path, help="a package made from --weights (default: exported here)")
    p.add_argument("--labels", type=Path, default=edge_models.REAL_LABELS, help="labels.csv for the INT8 mAP check")
    p.add_argument("--images", type=int, default=None, help="use only the first N images")
    p.add_argument("--rounds", type=int, default=3, help="passes over all configurations")
    p.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    p.add_argument(
        "--camera-opencv",
        action="store_true",
        help="also time ours in a process that has loaded OpenCV (as a camera source does), which then resizes",
    )
    p.add_argument("--warmup", type=int, default=5, help="untimed images per process before timing")
    return p.parse_args(argv)


def configurations(models: edge_models.EdgeModels, threads: list[int], camera_opencv: bool = False) -> list[dict]:
    out = []
    ours = ("ours", "ours+cv2") if camera_opencv else ("ours",)
    for n in threads:
        for precision in ("fp32", "int8"):
            for impl in ours:
                out.append({"impl": impl, "precision": precision, "threads": n, "model": str(models.package)})
            square = models.square_int8 if precision == "int8" else models.square_fp32
            out.append({"impl": "reference", "precision": precision, "threads": n, "model": str(square)})
    return out


def run_config(config: dict, images: list[Path], warmup: int, progress: Progress, task) -> dict:
    """One configuration in a fresh pinned process; its per-image timings."""
    env = {**os.environ, **dict.fromkeys(onnx_flops.BLAS_ENV, str(config["threads"]))}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job:
        json.dump({**config, "images": [str(p) for p in images], "warmup": warmup}, job)
    cmd = [sys.executable, str(Path(worker.__file__)), job.name]
    load = os.getloadavg()[0]
    result: dict = {}
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            if not line.startswith(worker.MARKER):
                continue
            record = json.loads(line.removeprefix(worker.MARKER))
            if "i" in record:
                progress.advance(task)
            else:
                result = record
    os.unlink(job.name)
    if proc.returncode or not result:
        raise RuntimeError(f"worker for {config} failed with exit code {proc.returncode}")
    return {**config, **result, "load": load}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(runs: list[dict]) -> dict[tuple, dict]:
    table: dict[tuple, dict] = {}
    for run in runs:
        key = (run["impl"], run["precision"], run["threads"])
        row = table.setdefault(
            key,
            {"ms": [], "cpu_ms": [], "forward_ms": [], "in_loop_ms": [], "outside_ms": [], "in_loop_cpu_ms": [],
             "outside_cpu_ms": [], "round_medians": [], "boxes": [], "loads": []},
        )  # fmt: skip
        row["ms"] += run["ms"]
        row["cpu_ms"] += run["cpu_ms"]
        row["forward_ms"] += run.get("forward_ms", [])
        in_loop = run.get("in_loop_forward_ms", [])
        row["in_loop_ms"] += in_loop
        row["outside_ms"] += [total - forward for total, forward in zip(run["ms"], in_loop, strict=False)]
        in_loop_cpu = run.get("in_loop_forward_cpu_ms", [])
        row["in_loop_cpu_ms"] += in_loop_cpu
        row["outside_cpu_ms"] += [total - forward for total, forward in zip(run["cpu_ms"], in_loop_cpu, strict=False)]
        row["round_medians"].append(statistics.median(run["ms"]))
        row["boxes"] += run["boxes"]
        row["loads"].append(run["load"])
    for row in table.values():
        row["median"], row["p95"] = statistics.median(row["ms"]), pct(row["ms"], 0.95)
        row["cpu_median"] = statistics.median(row["cpu_ms"])
        row["forward_median"] = statistics.median(row["forward_ms"]) if row["forward_ms"] else None
        row["in_loop_median"] = statistics.median(row["in_loop_ms"]) if row["in_loop_ms"] else None
        row["outside_median"] = statistics.median(row["outside_ms"]) if row["outside_ms"] else None
        for part in ("in_loop_cpu", "outside_cpu"):
            row[f"{part}_median"] = statistics.median(row[f"{part}_ms"]) if row[f"{part}_ms"] else None
    return table


def report_latency(table: dict[tuple, dict], threads: list[int]) -> list[str]:
    lines = [
        f"{'config':<22}{'median ms':>10}{'p95 ms':>9}{'CPU ms':>8}{'forward':>9}{'outside':>9}{'fwd CPU':>9}"
        f"{'out CPU':>9}{'rounds (median ms)':>30}{'boxes/img':>10}{'load':>12}"
    ]
    for (impl, precision, n), row in table.items():
        rounds = " ".join(f"{m:.1f}" for m in row["round_medians"])
        loads = f"{min(row['loads']):.2f}-{max(row['loads']):.2f}"
        parts = "".join(f"{v:>9.1f}" if v is not None else f"{'-':>9}" for v in
                        (row[f"{p}_median"] for p in ("in_loop", "outside", "in_loop_cpu", "outside_cpu")))  # fmt: skip
        lines.append(
            f"{impl + ' ' + precision + f' {n}t':<22}{row['median']:>10.1f}{row['p95']:>9.1f}{row['cpu_median']:>8.1f}"
            f"{parts}{rounds:>30}"
            f"{statistics.mean(row['boxes']):>10.2f}{loads:>12}"
        )
    lines.append(
        "forward: ONNX Runtime's session.run within each timed image; outside: the rest of that image's time "
        "(decode, letterbox, post-processing); fwd/out CPU: the same split of the process's CPU time, which "
        "does not grow while another process holds the core; medians over images"
    )
    lines.append(
        f"speed-up (reference median / ours median; goal >= {GOALS['fp32']}x FP32, >= {GOALS['int8']}x INT8 "
        "against the reference's FP32):"
    )
    for n in threads:
        ref32, ref8 = table[("reference", "fp32", n)]["median"], table[("reference", "int8", n)]["median"]
        ours32, ours8 = table[("ours", "fp32", n)]["median"], table[("ours", "int8", n)]["median"]
        lines.append(
            f"  {n} thread(s): FP32 {ref32 / ours32:.2f}x ({_ok(ref32 / ours32 >= GOALS['fp32'])}); "
            f"ours INT8 vs reference FP32 {ref32 / ours8:.2f}x ({_ok(ref32 / ours8 >= GOALS['int8'])}); "
            f"INT8 vs INT8 {ref8 / ours8:.2f}x ({_ok(ref8 / ours8 >= GOALS['int8'])}); "
            f"ours INT8 vs ours FP32 {ours32 / ours8:.2f}x"
        )
        if ("ours+cv2", "fp32", n) in table:
            cv32, cv8 = table[("ours+cv2", "fp32", n)]["median"], table[("ours+cv2", "int8", n)]["median"]
            lines.append(
                f"  {n} thread(s), OpenCV loaded (a camera source): FP32 {ref32 / cv32:.2f}x "
                f"({_ok(ref32 / cv32 >= GOALS['fp32'])}); INT8 vs reference FP32 {ref32 / cv8:.2f}x "
                f"({_ok(ref32 / cv8 >= GOALS['int8'])})"
            )
    return lines


def report_floor(models: edge_models.EdgeModels, table: dict[tuple, dict]) -> tuple[list[str], dict]:
    ours = onnx_flops.count_flops(models.package / "model.onnx")
    square = onnx_flops.count_flops(models.square_fp32)
    ultra = onnx_flops.ultralytics_gflops(models.weights, edge_models.INPUT_HW)
    rate = onnx_flops.sgemm_gflops(1)
    int8_rate = onnx_flops.int8_gops(1)
    split = onnx_flops.int8_split(models.package / "model.int8.onnx")
    floor_ms = ours["gflop"] / rate["peak"] * 1e3
    int8_floor_ms = (split["int8"] / int8_rate["peak"] + split["float"] / rate["peak"]) * 1e3
    row = table[("ours", "fp32", 1)]
    e2e, fwd = row["median"] / floor_ms, (row["forward_median"] or 0) / floor_ms
    row8 = table[("ours", "int8", 1)]
    e2e8, fwd8 = row8["median"] / int8_floor_ms, (row8["forward_median"] or 0) / int8_floor_ms
    lines = [
        f"FLOPs from the ONNX graph: {ours['gflop']:.3f} GFLOP at 320x448 {ours['nodes']}, "
        f"{square['gflop']:.3f} GFLOP at 448x448",
        f"ultralytics' count at 320x448: {ultra:.3f} GFLOP" if ultra else "ultralytics' count: not available",
        f"sgemm, 1 thread ({rate['size']}^2 float32): peak {rate['peak']:.1f} GFLOP/s, median {rate['median']:.1f}",
        f"floor: {floor_ms:.1f} ms at 320x448 ({square['gflop'] / rate['peak'] * 1e3:.1f} ms square)",
        f"ours FP32 1 thread: end to end {row['median']:.1f} ms = {e2e:.2f}x the floor ({_ok(e2e <= GOALS['floor'])}, "
        f"goal <= 1.6x); ONNX Runtime forward alone {row['forward_median']:.1f} ms = {fwd:.2f}x",
        f"int8 matrix product, 1 thread (ONNX Runtime MatMulInteger u8 x s8, {int8_rate['size']}^2): "
        f"peak {int8_rate['peak']:.1f} GOP/s, median {int8_rate['median']:.1f} "
        f"({int8_rate['peak'] / rate['peak']:.2f}x the sgemm peak)",
        f"INT8 floor: {split['int8']:.3f} GOP in int8 + {split['float']:.3f} GFLOP left in float = "
        f"{int8_floor_ms:.1f} ms",
        f"ours INT8 1 thread: end to end {row8['median']:.1f} ms = {e2e8:.2f}x the INT8 floor; "
        f"forward alone {row8['forward_median']:.1f} ms = {fwd8:.2f}x",
    ]
    lines += [w for w in (onnx_flops.busy_warning(rate), onnx_flops.busy_warning(int8_rate)) if w][:1]
    figures = {"gflop": ours["gflop"], "gflop_square": square["gflop"], "ultralytics_gflop": ultra, "sgemm": rate,
               "int8_gemm": int8_rate, "int8_split": split}  # fmt: skip
    figures |= {"floor_ms": floor_ms, "e2e_over_floor": e2e, "forward_over_floor": fwd}
    return lines, {
        **figures,
        "int8_floor_ms": int8_floor_ms,
        "int8_e2e_over_floor": e2e8,
        "int8_forward_over_floor": fwd8,
    }


def report_map(models: edge_models.EdgeModels, labels: Path) -> tuple[list[str], dict]:
    if not models.trained:
        return ["skipped: untrained weights (pass --weights of a trained model)"], {}
    if not labels.is_file():
        return [f"skipped: no labels at {labels}"], {}
    from qiloop.training.evaluate_csv import evaluate_labels_csv

    figures = {}
    for precision in ("fp32", "int8"):
        evaluation = evaluate_labels_csv(
            models.package, labels, labels.parent, int8=precision == "int8", threads=2, progress=True
        )
        figures[precision] = evaluation.summary()
    drop = figures["fp32"]["mAP50"] - figures["int8"]["mAP50"]
    line = (
        f"mAP50 on {labels}: FP32 {figures['fp32']['mAP50']:.3f}, INT8 {figures['int8']['mAP50']:.3f}, "
        f"drop {drop:+.3f} ({_ok(drop <= GOALS['map_drop'])}, goal <= 0.02)"
    )
    return [line], {**figures, "drop": drop}


def _ok(passed: bool) -> str:
    return "meets the goal" if passed else "MISSES the goal"


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}", flush=True)
    started = time.perf_counter()
    models = edge_models.prepare(args.weights, args.package)
    images, source = edge_models.bench_images(args.images)
    edge_models.jpeg_bytes(images)  # refuse unreadable files before timing anything
    print(f"models ready in {time.perf_counter() - started:.0f} s: {models}")
    print(f"images: {len(images)} {source}; {'trained' if models.trained else 'UNTRAINED seeded'} yolov8n")
    configs = configurations(models, threads, args.camera_opencv)
    runs = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        overall = progress.add_task("all configurations", total=len(configs) * args.rounds)
        for r in range(args.rounds):
            for config in configs:
                name = f"round {r + 1}: {config['impl']} {config['precision']} {config['threads']}t"
                task = progress.add_task(name, total=len(images))
                runs.append(run_config(config, images, args.warmup, progress, task))
                progress.remove_task(task)
                progress.advance(overall)
    table = summarise(runs)
    sections = {"latency per image (ms, JPEG decode included)": report_latency(table, threads)}
    sections["floor"], floor = report_floor(models, table)
    sections["INT8 vs FP32 accuracy"], accuracy = report_map(models, args.labels)
    for title, lines in sections.items():
        print(f"\n{title}\n  " + "\n  ".join(lines))
    print(f"load average after: {os.getloadavg()}")
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"bench_edge_latency-{datetime.now():%Y%m%d-%H%M%S}.json"
    rows = {
        " ".join(map(str, k)): {
            x: v
            for x, v in row.items()
            if x not in ("ms", "cpu_ms", "forward_ms", "in_loop_ms", "outside_ms", "in_loop_cpu_ms", "outside_cpu_ms")
        }
        for k, row in table.items()
    }
    out.write_text(json.dumps({"images": source, "trained": models.trained, "latency": rows, "floor": floor,
                               "accuracy": accuracy, "runs": runs}, indent=1, default=str))  # fmt: skip
    print(f"figures: {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
