"""The training step's ``code_version``: a digest of the training code and its resolved configuration.

Dagster marks an asset stale when its code version changes, so a change to the
training code (``qiloop.training``, the loop's training use case, the shipped
checkpoints' build records) or to the resolved training configuration retrains.
The digest reads the package's own source files; it opens no store and reads no settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_CODE_GLOBS = ("training/*.py", "training/checkpoints/*.json", "loop/train.py", "core/metrics*.py")


def training_sources(root: Path | None = None) -> list[Path]:
    """The files whose content decides what a training run does, in a stable order."""
    base = root or Path(__file__).resolve().parents[1]
    return sorted({p for pattern in _CODE_GLOBS for p in base.glob(pattern) if p.is_file()})


def digest(files: Iterable[Path], config_json: str, *, root: Path | None = None) -> str:
    """16 hex digits over the files' relative names and bytes, then the configuration's JSON."""
    base = root or Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(base)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    h.update(config_json.encode())
    return h.hexdigest()[:16]


def training_code_version(config) -> str:
    """The code version of training with ``config`` (a :class:`~qiloop.training.config.TrainConfig`).

    ``as_of`` is left out: which labels are read is the data's version, not the code's.

    Example:
        >>> from qiloop.training.config import TrainConfig
        >>> training_code_version(TrainConfig()) == training_code_version(TrainConfig())
        True
    """
    return digest(training_sources(), config.model_dump_json(exclude={"as_of"}))
