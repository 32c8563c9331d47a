"""The ultralytics arguments a config becomes, and the adapter's lazy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from qiloop.training.config import TrainConfig
from qiloop.training.ultralytics_adapter import train_args


def test_config_becomes_offline_safe_train_arguments():
    cfg = TrainConfig.from_overrides(TrainConfig(), ["augment.mosaic=0.3", "rect=true", "amp=true", "nbs=16"])
    args = train_args(cfg, Path("/d/data.yaml"), Path("/runs/r1"), "cpu")
    assert args["plots"] is False  # plots download a font
    assert args["amp"] is False  # the AMP check downloads weights; CPU never uses AMP
    assert train_args(cfg, Path("/d/data.yaml"), Path("/runs/r1"), "cuda")["amp"] is True
    assert (args["project"], args["name"], args["exist_ok"]) == ("/runs", "r1", True)
    assert (args["mosaic"], args["rect"], args["nbs"], args["imgsz"]) == (0.3, True, 16, 448)
    assert set(cfg.augment.model_dump()) <= set(args)


def test_importing_training_loads_no_framework():
    heavy = ["torch", "ultralytics", "onnxruntime", "onnx", "mlflow", "matplotlib"]
    code = (
        "import sys, qiloop.training, qiloop.training.ultralytics_adapter, qiloop.training.export, qiloop.cli.train;"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing the training modules loaded {out}"


def test_cpu_training_gets_every_core_this_process_may_use():
    import os

    import pytest

    torch = pytest.importorskip("torch")
    from qiloop.training.ultralytics_adapter import use_every_core

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # what ultralytics leaves on a 2-core machine (cpu_count - 1)
        cores = use_every_core()
        assert cores == len(os.sched_getaffinity(0)) and torch.get_num_threads() == cores
    finally:
        torch.set_num_threads(before)
