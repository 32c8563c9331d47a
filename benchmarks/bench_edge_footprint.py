"""What a device must hold and how fast it starts: qiloop[edge] against ultralytics + torch.

Two virtual environments under ``benchmarks/out/footprint/`` (kept between runs;
``--fresh`` rebuilds them), each made ``--without-pip`` and filled by this
Python's pip (``pip --python VENV``), so site-packages holds exactly what the
install brought:

- ``edge``: ``pip install <repo>[edge]`` (not editable: a copy of the sources);
- ``reference``: ``pip install torch==2.14.1 torchvision==0.29.1 ultralytics
  onnxruntime onnx`` (at the versions of the project's own environment;
  ``YOLO(model.onnx)`` requires onnx and runs on ONNX Runtime).

For each: MB on disk of site-packages, and how much of it is bytecode that pip
compiled at install (``__pycache__``; ``pip install --no-compile`` leaves it
out and Python then writes only what it imports), the import time of the
inference code (``qiloop.edge.runtime`` / ``ultralytics.YOLO``), resident
memory once the model is loaded and after the first image, and the time to
first result: a new process, wall clock from its start to detections for one
image (import, load and verify the package, test inference, read + decode +
detect one JPEG; for the reference: import, ``YOLO(onnx)``, ``predict(path)``).
The edge runs FP32 and INT8; its first process optimises the model for this CPU
and keeps the result (``optimized_dir``), as the inference app does, so the
first run's figure is a device's first start and the median its later starts.

Run: ``python benchmarks/bench_edge_footprint.py [--fresh] [--repeats 5] [--kinds edge,edge-int8,reference]``.
Benchmarks print numbers; they are not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENVS = REPO / "benchmarks" / "out" / "footprint"
GOALS = {"size_mb": 200, "ratio": 25, "first_s": 1.5}


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


def child(kind: str, model: str, image: str) -> None:
    """Inside a fresh process of one venv: first result, with the steps' times and memory."""
    started = time.perf_counter()
    if kind.startswith("edge"):
        from qiloop.edge.runtime import OnnxDetector

        imported = time.perf_counter()
        detector = OnnxDetector.from_package(model, int8=kind == "edge-int8", optimized_dir=VENVS / f"{kind}-optimized")
        loaded, rss_loaded = time.perf_counter(), _rss_mb()
        boxes = len(detector.detect(image))
    else:
        from ultralytics import YOLO

        imported = time.perf_counter()
        yolo = YOLO(model, task="detect")
        loaded, rss_loaded = time.perf_counter(), _rss_mb()  # ultralytics loads the session on first predict
        boxes = len(yolo.predict(image, imgsz=448, verbose=False, save=False)[0].boxes)
    done = time.perf_counter()
    heavy = sorted(m for m in ("torch", "ultralytics", "cv2", "mlflow", "polars", "pyarrow") if m in sys.modules)
    times = {"import_s": imported - started, "load_s": loaded - imported, "detect_s": done - loaded}
    print(json.dumps({**times, "rss_loaded_mb": rss_loaded, "rss_first_mb": _rss_mb(), "boxes": boxes, "heavy": heavy}))


def disk_mb(folder: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Space each top-level entry of ``folder`` takes on disk (allocated blocks, each inode once), in MB,
    and the part of each in ``__pycache__`` folders."""
    seen, sizes, bytecode = set(), {}, {}
    for path in folder.rglob("*"):
        st = path.lstat()
        if st.st_ino not in seen:
            seen.add(st.st_ino)
            top = path.relative_to(folder).parts[0]
            sizes[top] = sizes.get(top, 0) + st.st_blocks * 512 / 1e6
            if "__pycache__" in path.parts:
                bytecode[top] = bytecode.get(top, 0) + st.st_blocks * 512 / 1e6
    return sizes, bytecode


def by_distribution(sizes: dict[str, float]) -> dict[str, float]:
    """Sizes grouped by distribution: ``numpy`` + ``numpy.libs`` + ``numpy-*.dist-info`` under ``numpy``."""
    out: dict[str, float] = {}
    for name, mb in sizes.items():
        key = name.split("-")[0].removesuffix(".libs").removesuffix(".dist").lower()
        key = {"pil": "pillow"}.get(key, key)
        out[key] = out.get(key, 0) + mb
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def requirements(kind: str, scratch: Path) -> list[str]:
    """What pip installs into the ``kind`` venv; the edge sources are copied to ``scratch`` first."""
    if kind == "edge":
        source = scratch / "qiloop"  # build from a copy: no build/ in the working tree
        source.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            shutil.copy(REPO / name, source / name)
        shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
        return [f"{source}[edge]"]
    from importlib.metadata import version

    return ["torch==2.14.1", "torchvision==0.29.1", f"ultralytics=={version('ultralytics')}",
            f"onnxruntime=={version('onnxruntime')}", f"onnx=={version('onnx')}"]  # fmt: skip


def make_venv(kind: str, fresh: bool) -> tuple[Path, float | None]:
    """The venv's folder and its install time (None when an earlier run's venv was reused)."""
    venv = VENVS / kind
    if fresh:
        shutil.rmtree(venv, ignore_errors=True)
    if (venv / "installed").is_file():
        return venv, None
    shutil.rmtree(venv, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet"]
    with tempfile.TemporaryDirectory(prefix="qiloop-footprint-") as scratch:
        done = subprocess.run([*pip, *requirements(kind, Path(scratch))], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"pip could not build the {kind} venv:\n{done.stderr[-3000:]}")
    seconds = time.perf_counter() - started
    (venv / "installed").write_text(f"{seconds:.1f}\n")
    return venv, seconds


def run_child(venv: Path, kind: str, model: Path, image: Path) -> dict:
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(VENVS / "yolo-config"), "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    cmd = [str(venv / "bin" / "python"), str(Path(__file__)), "--child", kind, str(model), str(image)]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{kind} first-result process failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": wall}


def import_seconds(venv: Path, module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(VENVS / "yolo-config")}
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir())  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def measure(kind: str, venv: Path, model: Path, image: Path, repeats: int, progress, task) -> dict:
    module = "qiloop.edge.runtime" if kind.startswith("edge") else "ultralytics"
    shutil.rmtree(VENVS / f"{kind}-optimized", ignore_errors=True)  # the first process is a first start
    imports, runs = [], []
    for _ in range(repeats):
        imports.append(import_seconds(venv, module))
        runs.append(run_child(venv, kind, model, image))
        progress.advance(task)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], float)}
    raw, raw_bytecode = disk_mb(site_packages(venv))
    sizes, bytecode_by = by_distribution(raw), by_distribution(raw_bytecode)
    bytecode = sum(bytecode_by.values())
    tooling = sum(sizes.get(k, 0) for k in ("pip", "setuptools", "pkg_resources", "_distutils_hack"))
    return {"site_packages_mb": sum(sizes.values()), "tooling_mb": tooling, "bytecode_mb": bytecode,
            "largest": dict(list(sizes.items())[:8]),
            "distributions": {k: {"mb": v, "bytecode_mb": bytecode_by.get(k, 0.0)} for k, v in sizes.items()},
            "import_s": statistics.median(imports), "import_first_s": imports[0], "first_runs": runs,
            "first_wall_first_s": runs[0]["wall_s"], **{f"median_{k}": v for k, v in med.items()},
            "boxes": runs[0]["boxes"], "heavy": runs[0]["heavy"]}  # fmt: skip


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fresh", action="store_true", help="rebuild both venvs")
    p.add_argument("--repeats", type=int, default=5, help="fresh processes per measurement")
    p.add_argument("--kinds", default="edge,edge-int8,reference", help="what to measure, comma-separated")
    args = p.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    import edge_models

    print(f"load {os.getloadavg()}", flush=True)
    models = edge_models.prepare()
    image = edge_models.bench_images(1)[0][0]
    figures = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()) as progress:
        built: set[str] = set()
        for kind in kinds:
            model = models.square_fp32 if kind == "reference" else models.package
            task = progress.add_task(f"{kind}: venv", total=None)
            name = "edge" if kind.startswith("edge") else kind
            venv, install_s = make_venv(name, args.fresh and name not in built)
            built.add(name)
            progress.update(task, description=f"{kind}: {args.repeats} fresh processes", total=args.repeats)
            figures[kind] = {"install_s": install_s, **measure(kind, venv, model, image, args.repeats, progress, task)}
    report(figures)
    (VENVS / "figures.json").write_text(json.dumps(figures, indent=1))


def _verdict(passed: bool) -> str:
    return "met" if passed else "MISSED"


def report(figures: dict) -> None:
    """Print each venv's figures and the goals."""
    for kind, f in figures.items():
        installed = f"{f['install_s']:.0f} s" if f["install_s"] else "reused"
        import_ms, first_import_ms = f["import_s"] * 1e3, f["import_first_s"] * 1e3
        steps = f"import {f['median_import_s']:.2f} + load {f['median_load_s']:.2f} + detect {f['median_detect_s']:.2f}"
        print(f"\n{kind}  (install {installed})")
        largest = ", ".join(f"{k} {v:.0f}" for k, v in f["largest"].items())
        print(f"  site-packages on disk   {f['site_packages_mb']:8.1f} MB  (bytecode compiled at install "
              f"{f['bytecode_mb']:.0f} MB; without it {f['site_packages_mb'] - f['bytecode_mb']:.0f} MB; "
              f"pip + setuptools {f['tooling_mb']:.0f} MB)")  # fmt: skip
        print(f"    largest (MB): {largest}")
        listed = [f"{k} {d['mb']:.1f} ({d['bytecode_mb']:.1f})" for k, d in f["distributions"].items()
                  if d["mb"] >= 0.3]  # fmt: skip
        print(f"    every distribution of 0.3 MB or more (MB, of it bytecode): {', '.join(listed)}")
        print(f"  import inference code   {import_ms:8.0f} ms median  (first {first_import_ms:.0f} ms)")
        print(f"  RSS model loaded        {f['median_rss_loaded_mb']:8.1f} MB")
        print(f"  RSS after first image   {f['median_rss_first_mb']:8.1f} MB")
        print(
            f"  time to first result    {f['median_wall_s']:8.2f} s median  (first run {f['first_wall_first_s']:.2f} s)"
        )
        print(f"    in-process: {steps} s; {f['boxes']} boxes; heavy modules loaded: {f['heavy'] or 'none'}")
    edge_kind = next((k for k in figures if k.startswith("edge")), None)
    if edge_kind is None:
        return
    edge = figures[edge_kind]["site_packages_mb"]
    lean = edge - figures[edge_kind]["bytecode_mb"]
    print(f"\nsize of pip install qiloop[edge]: {edge:.0f} MB ({lean:.0f} MB installed with --no-compile)")
    print(f"  goal <= {GOALS['size_mb']} MB: {_verdict(edge <= GOALS['size_mb'])} "
          f"(with --no-compile: {_verdict(lean <= GOALS['size_mb'])})")  # fmt: skip
    if "reference" in figures:
        ref = figures["reference"]["site_packages_mb"]
        print(f"  vs the reference's {ref:.0f} MB: {ref / edge:.1f}x smaller; "
              f"goal >= {GOALS['ratio']}x: {_verdict(ref / edge >= GOALS['ratio'])}")  # fmt: skip
    for kind in (k for k in figures if k.startswith("edge")):
        f = figures[kind]
        first, later = f["first_wall_first_s"], f["median_wall_s"]
        print(f"first result {kind}: {later:.2f} s median of later starts, {first:.2f} s on the first start "
              f"(optimising the model); goal <= {GOALS['first_s']} s: {_verdict(later <= GOALS['first_s'])}, "
              f"first start {_verdict(first <= GOALS['first_s'])}")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main(sys.argv[1:])
