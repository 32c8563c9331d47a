"""The model package: a self-describing folder that carries a model everywhere.

Training writes it, the registry stores it as artefacts, the fleet ships it,
and the device and the HTTP endpoint load it. Its ``manifest.json`` says what
the model detects, how to feed it, which thresholds to use, where it came from,
and the sha256 of every file, so a loader can refuse a package that was altered.

Layout::

    model.onnx          FP32, fixed input size (height x width)
    model.int8.onnx     INT8, statically quantised (optional)
    manifest.json       this module's :class:`ModelManifest`
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qiloop.core.errors import InvalidRecordError, NotFoundError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class PackageFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Preprocessing(BaseModel):
    """How an image becomes the model's input tensor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resize: Literal["letterbox"] = "letterbox"
    pad_value: int = Field(default=114, ge=0, le=255)
    color: Literal["RGB"] = "RGB"
    scale: float = 1 / 255
    layout: Literal["NCHW"] = "NCHW"


class Thresholds(BaseModel):
    """Default operating thresholds; a deployment may override them.

    ``class_confidence`` holds the operating point training chose per class on the
    validation split (F1-optimal); ``confidence`` is then the lowest of them and
    serves classes without one. An explicit override applies one number to all.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    confidence: float = Field(default=0.25, ge=0, le=1)
    class_confidence: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    # NMS overlap: 0.7 is what ultralytics predicts and validates with; 0.45 cost 0.025 mAP50 on the real
    # tags, whose scratches often lie close together (benchmarks/int8_variants.py prints both).
    iou: float = Field(default=0.7, ge=0, le=1)
    max_detections: int = Field(default=300, gt=0)
    # A result fails inspection when any detection scores at least this.
    defect: float = Field(default=0.5, ge=0, le=1)


class ModelManifest(BaseModel):
    """What ``manifest.json`` of a model package holds."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    format_version: int = FORMAT_VERSION
    name: str = Field(min_length=1)
    version: str = ""
    task: Literal["detect"] = "detect"
    architecture: str = "yolov8"
    classes: list[str] = Field(min_length=1)
    input_width: int = Field(gt=0)
    input_height: int = Field(gt=0)
    preprocessing: Preprocessing = Preprocessing()
    thresholds: Thresholds = Thresholds()
    files: dict[str, PackageFile]
    metrics: dict[str, float] = Field(default_factory=dict)
    int8_metrics: dict[str, float] = Field(default_factory=dict)
    dataset_snapshot: dict[str, Any] = Field(default_factory=dict)
    label_store_version: int | None = None
    git_commit: str | None = None
    training_config: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    operating_point: dict[str, Any] = Field(
        default_factory=dict,
        description="How the thresholds were chosen: split, images, and per class confidence, precision, recall, F1.",
    )

    def operating_confidence(self) -> float | dict[int, float]:
        """The confidence a detection needs: one number, or one per class id when training chose them."""
        limits = self.thresholds
        if not limits.class_confidence:
            return limits.confidence
        return {i: limits.class_confidence.get(name, limits.confidence) for i, name in enumerate(self.classes)}

    @field_validator("files")
    @classmethod
    def _needs_model(cls, files: dict[str, PackageFile]) -> dict[str, PackageFile]:
        if "model.onnx" not in files:
            raise ValueError("a model package must contain model.onnx")
        for name in files:
            if "/" in name or "\\" in name or name.startswith("."):
                raise ValueError(f"package file names must be plain names, got {name!r}")
        return files


def is_package(path: Path) -> bool:
    """True when ``path`` is a model package folder (it holds a manifest)."""
    return path.is_dir() and (path / MANIFEST).is_file()


def file_entry(path: Path) -> PackageFile:
    """sha256 and size of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return PackageFile(sha256=h.hexdigest(), size=path.stat().st_size)


def write_manifest(folder: Path, **fields: Any) -> ModelManifest:
    """Hash every ``*.onnx`` file in ``folder`` and write ``manifest.json`` beside them."""
    files = {p.name: file_entry(p) for p in sorted(folder.glob("*.onnx"))}
    manifest = ModelManifest(files=files, **fields)
    (folder / MANIFEST).write_text(manifest.model_dump_json(indent=2))
    return manifest


def read_manifest(folder: Path, *, verify: bool = True) -> ModelManifest:
    """Load and (by default) verify a package: every listed file present with its sha256.

    Raises:
        NotFoundError: No manifest or a listed file is missing.
        InvalidRecordError: The manifest is malformed or a file does not match its sha256.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise NotFoundError(f"{folder} is not a model package: no {MANIFEST}", hint="give the package folder")
    try:
        manifest = ModelManifest.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise InvalidRecordError(f"{path} is malformed: {exc}", hint="rebuild the package") from exc
    if verify:
        for name, expected in manifest.files.items():
            file = folder / name
            if not file.is_file():
                raise NotFoundError(f"model package {folder} lacks {name}", hint="copy the whole package folder")
            actual = file_entry(file)
            if actual != expected:
                raise InvalidRecordError(
                    f"{file} does not match its manifest (sha256 or size differs)",
                    hint="the package was altered or partly copied; download it again",
                )
    return manifest
