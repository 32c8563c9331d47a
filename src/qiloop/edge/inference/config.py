"""The inference app's configuration: one validated object, from Python, a file or the command line.

A config file is a saved call: ``qiloop edge run --config app.yaml threads=2``
builds exactly ``AppConfig.from_overrides(AppConfig.from_file("app.yaml"),
["threads=2"])``. Unknown keys are refused with the list of valid ones. The
image source is a discriminated union on ``type`` (``folder``, ``files``,
``opencv``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core import config_keys
from qiloop.core.errors import ConfigurationError, require
from qiloop.edge.inference.budget import DropPolicy
from qiloop.edge.inference.feedback import FeedbackPolicy
from qiloop.protocol.topics import RESULT_TOPIC

IMAGE_PATTERNS = tuple(
    f"*.{ext}" for base in ("jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp") for ext in (base, base.upper())
)


# What each device sets for itself (the nucleus passes them as options): a deployment's settings may not.
DEVICE_KEYS = ("package", "device_id", "broker", "outbox", "optimized_dir", "source.type", "source.path")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FolderSourceConfig(_Section):
    """A watched folder standing in for the camera: new files are inspected in name order."""

    type: Literal["folder"] = "folder"
    path: Path
    poll_s: float = Field(default=0.2, gt=0, description="seconds between scans of the folder")
    settle_s: float = Field(default=0.2, ge=0, description="a file's size must stay the same this long")
    after: Literal["keep", "move", "delete"] = "move"
    processed_dir: Path | None = Field(default=None, description="where 'move' puts files (default path/processed)")
    rejected_dir: Path | None = Field(default=None, description="where unreadable files go (default path/rejected)")
    patterns: list[str] = Field(default_factory=lambda: list(IMAGE_PATTERNS), min_length=1)


class FilesSourceConfig(_Section):
    """A fixed list of image files, inspected once each, in the order given."""

    type: Literal["files"] = "files"
    paths: list[Path] = Field(min_length=1)


class OpenCVSourceConfig(_Section):
    """An OpenCV capture: a camera index, a video file or a stream URL (needs ``qiloop[camera]``)."""

    type: Literal["opencv"] = "opencv"
    device: int | str = 0
    fps: float | None = Field(default=None, gt=0, description="frames per second to inspect; None takes every frame")
    max_frames: int | None = Field(default=None, gt=0)


SourceConfig = Annotated[FolderSourceConfig | FilesSourceConfig | OpenCVSourceConfig, Field(discriminator="type")]


class AppConfig(_Section):
    """Everything that decides how a device inspects images and reports them.

    Example:
        >>> cfg = AppConfig.from_overrides(
        ...     AppConfig(package="pkg", device_id="cam-1", source={"type": "files", "paths": ["a.jpg"]}),
        ...     ["feedback.sample_rate=0.1", "status_interval_s=5"])
        >>> cfg.feedback.sample_rate, cfg.status_interval_s
        (0.1, 5.0)
    """

    package: Path = Field(description="the model package folder")
    int8: bool = Field(default=False, description="run model.int8.onnx")
    threads: int | None = Field(default=None, ge=1, description="ONNX Runtime threads; None uses every core")
    providers: list[str] | None = Field(
        default=None,
        min_length=1,
        description="ONNX Runtime execution providers in order of preference, e.g. "
        "[OpenVINOExecutionProvider, CPUExecutionProvider] (needs onnxruntime-openvino); None: the CPU",
    )
    draft_decode: bool = Field(
        default=True,
        description="decode JPEGs at least twice the model input at 1/2, 1/4 or 1/8 scale (faster; "
        "near but not equal to the full decode that evaluation uses)",
    )
    optimized_dir: Path | None = Field(
        default=None,
        description="keep the model optimised for this CPU here, so later starts skip optimising it "
        "(default: an 'optimized' folder beside the outbox)",
    )
    device_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,128}$", description="this device's name in topics and messages")
    broker: str | None = Field(default=None, description="MQTT broker URL (mqtt:// or mqtts://)")
    results_topic: str = Field(default=RESULT_TOPIC, min_length=1)
    source: SourceConfig
    feedback: FeedbackPolicy = FeedbackPolicy()
    confidence: float | None = Field(default=None, ge=0, le=1, description="override the package's threshold")
    defect: float | None = Field(default=None, ge=0, le=1, description="override the package's defect threshold")
    status_interval_s: float = Field(default=30.0, gt=0)
    outbox: Path | None = Field(default=None, description="the outbox file (default HOME/devices/ID/outbox.sqlite)")
    max_outbox_bytes: int = Field(default=256 * 2**20, gt=0, description="disk budget of the outbox")
    drop_policy: DropPolicy = "oldest"
    key_retention_s: float = Field(default=7 * 86400, gt=0, description="how long an image stays de-duplicated")
    flush_timeout_s: float = Field(default=10.0, ge=0, description="how long a stop waits for the outbox to drain")
    max_inflight: int = Field(default=20, ge=1)
    reconnect_max_s: float = Field(default=30.0, gt=0, description="longest wait between reconnect attempts")
    max_images: int | None = Field(default=None, gt=0, description="stop after this many images")
    duration_s: float | None = Field(default=None, gt=0, description="stop after this many seconds")

    @classmethod
    def deployment_settings(cls, overrides: Iterable[str]) -> dict[str, Any]:
        """Check ``key=value`` settings that a deployment gives the app on every device; the mapping they make.

        Each key and value is checked as the app will check it; what each device sets itself
        (:data:`DEVICE_KEYS`: its package, name, broker, camera folder and outbox) is refused; the
        camera folder's other keys (``source.poll_s``) may be set.

        Example:
            >>> AppConfig.deployment_settings(["feedback.sample_rate=0.2", "threads=2"])
            {'feedback': {'sample_rate': 0.2}, 'threads': 2}

        Raises:
            ConfigurationError: A malformed, unknown or device-set key, or a value the app refuses.
        """
        data: dict[str, Any] = {}
        for item in overrides:
            key, value = config_keys.parse_override(item)
            if any(key == k or key.startswith(f"{k}.") or k.startswith(f"{key}.") for k in DEVICE_KEYS):
                raise ConfigurationError(
                    f"{key!r} is set by each device, not by a deployment",
                    hint=f"a deployment may set any key but {', '.join(DEVICE_KEYS)}",
                )
            config_keys.set_dotted(cls, data, key, value)
        probe = {"package": ".", "device_id": "check", "source": {"type": "folder", "path": "."}}
        cls.build(config_keys.merge(probe, data), source="settings")
        return data

    @classmethod
    def build(cls, data: Mapping[str, Any], *, source: str = "configuration") -> AppConfig:
        """Validate a plain mapping, naming any unknown key and the valid ones."""
        return config_keys.build(cls, data, source)

    @classmethod
    def read_file(cls, path: str | Path) -> dict[str, Any]:
        """The mapping a YAML or JSON (``.json``) config file holds, not yet validated."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the app config {path}: {exc}", hint="give a YAML or JSON file"
            ) from exc
        if path.suffix.lower() == ".json":
            try:
                doc = json.loads(text)
            except ValueError as exc:
                raise ConfigurationError(f"{path} is not valid JSON: {exc}", hint="check its syntax") from exc
        else:
            yaml = require("yaml", "edge")
            try:
                doc = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise ConfigurationError(f"{path} is not valid YAML: {exc}", hint="check its syntax") from exc
        if not isinstance(doc, dict):
            raise ConfigurationError(f"{path} must hold a mapping of keys to values", hint="write key: value lines")
        return doc

    @classmethod
    def from_file(cls, path: str | Path, base: AppConfig | None = None) -> AppConfig:
        """Load a YAML/JSON file; keys it leaves out keep ``base``'s values (default: the defaults)."""
        merged = config_keys.merge(base.model_dump() if base else {}, cls.read_file(path))
        return cls.build(merged, source=str(path))

    @classmethod
    def from_overrides(cls, base: AppConfig, overrides: Iterable[str]) -> AppConfig:
        """Apply ``key=value`` strings (dotted keys such as ``source.poll_s=1``) to ``base``."""
        return cls.resolve(values=base.model_dump(), overrides=overrides)

    @classmethod
    def resolve(
        cls, *, path: str | Path | None = None, values: Mapping[str, Any] | None = None, overrides: Iterable[str] = ()
    ) -> AppConfig:
        """File, then ``values`` (what command-line options set), then ``key=value`` overrides: what the CLI builds.

        A ``source`` in ``values`` of another ``type`` than the file's replaces it; of the same type it is merged.
        """
        data = cls.read_file(path) if path is not None else {}
        for key, value in (values or {}).items():
            old = data.get(key)
            mergeable = isinstance(old, Mapping) and isinstance(value, Mapping)
            if key == "source" and mergeable and old.get("type") != value.get("type"):
                mergeable = False  # another kind of source replaces the file's
            data[key] = config_keys.merge(old, value) if mergeable else value
        for item in overrides:
            key, value = config_keys.parse_override(item)
            config_keys.set_dotted(cls, data, key, value)
        return cls.build(data, source=f"configuration ({path})" if path is not None else "configuration")
