"""The checkpoint qiloop ships: present, small, and what its build record says it is."""

from __future__ import annotations

import hashlib

import pytest

from qiloop.core.errors import NotFoundError
from qiloop.training import checkpoints
from qiloop.training.config import TrainConfig
from qiloop.training.pretrain import CHECKPOINT, RECIPE


def test_the_shipped_checkpoint_matches_its_record():
    assert checkpoints.available() == [CHECKPOINT]
    path = checkpoints.resolve(f"builtin:{CHECKPOINT}")
    from pathlib import Path

    data = Path(path).read_bytes()
    record = checkpoints.record(CHECKPOINT)
    assert len(data) <= 10 * 1024 * 1024 and record["bytes"] == len(data)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    # what it was built from, so anyone can rebuild it (benchmarks/pretrain_synthetic.py does)
    assert record["data"] == {"generator": "qiloop.synth.generate_dataset", "images": RECIPE["images"],
                              "seed": RECIPE["seed"]}  # fmt: skip
    assert record["config"]["epochs"] == RECIPE["config"]["epochs"] and record["config"]["model"] == "yolov8n.yaml"
    assert record["final"]["mAP50"] > 0.5 and record["built_by"].startswith("qiloop pretrain")


def test_names_resolve_or_say_what_is_there():
    assert checkpoints.resolve("yolov8n.yaml") == "yolov8n.yaml"
    assert checkpoints.resolve("/data/my.pt") == "/data/my.pt"
    with pytest.raises(NotFoundError, match=r"no checkpoint named 'other\.pt'") as err:
        checkpoints.resolve("builtin:other.pt")
    assert f"builtin:{CHECKPOINT}" in err.value.hint
    with pytest.raises(NotFoundError):
        checkpoints.resolve("builtin:../checkpoints/" + CHECKPOINT)


def test_the_quick_profile_starts_from_it():
    assert TrainConfig.profile("quick").model == f"builtin:{CHECKPOINT}"
    assert TrainConfig.from_overrides(TrainConfig(), [f"model=builtin:{CHECKPOINT}"]).model.startswith("builtin:")
