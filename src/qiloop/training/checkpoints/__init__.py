"""Checkpoints that ship with qiloop, named ``builtin:<file>`` in a training config.

``synthetic-yolov8n.pt`` is a YOLOv8n trained by ``qiloop pretrain`` on the
project's synthetic metal tags; ``synthetic-yolov8n.json`` beside it records
the seed, the data, the recipe, the figures and the sha256, and
``benchmarks/pretrain_synthetic.py`` rebuilds it and checks them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qiloop.core.errors import NotFoundError

PREFIX = "builtin:"
FOLDER = Path(__file__).resolve().parent


def available() -> list[str]:
    """The names of the shipped checkpoints (``builtin:`` left out)."""
    return sorted(p.name for p in FOLDER.glob("*.pt"))


def resolve(model: str) -> str:
    """A training config's ``model`` as ultralytics takes it: ``builtin:NAME`` becomes the shipped file."""
    if not model.startswith(PREFIX):
        return model
    name = model[len(PREFIX) :]
    path = FOLDER / name
    if "/" in name or not path.is_file():
        raise NotFoundError(
            f"qiloop ships no checkpoint named {name!r}",
            hint=f"use one of {', '.join(PREFIX + n for n in available()) or 'none'}, or --weights PATH.pt",
        )
    return str(path)


def record(name: str) -> dict[str, Any]:
    """How a shipped checkpoint was built (its ``.json`` beside it)."""
    path = (FOLDER / name).with_suffix(".json")
    if not path.is_file():
        raise NotFoundError(f"no build record for the shipped checkpoint {name!r}", hint="reinstall qiloop")
    return json.loads(path.read_text())
