"""Components: the separately versioned units a device installs.

A model component carries a model package; an inference component carries the
inference app's code as a zip of pure-Python source. Each lists its files with
sha256 and size (the device downloads only what it lacks and verifies every
byte), says how the device runs it (:class:`Lifecycle`) and which versions of
other components it needs (``dependencies``: name → version range, see
:mod:`qiloop.core.versions`). A component's :attr:`Component.digest` is the
sha256 of its canonical JSON: a deployment names components by digest, so a
signed deployment also fixes every file of every component.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qiloop.core.errors import ConfigurationError
from qiloop.core.versions import Version, check_range, satisfies

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


def canonical_json(data: Any) -> bytes:
    """The one byte form that is hashed and signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ComponentKind(str, Enum):
    MODEL = "model"
    INFERENCE = "inference"


class ComponentFile(BaseModel):
    """One artefact: a plain file name (no folders), its sha256 and exact size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


# A component's deployment configuration may hold its app's settings under this key; an argument of the
# lifecycle command that is exactly SETTINGS_ARG becomes one ``key=value`` argument per setting.
SETTINGS = "settings"
SETTINGS_ARG = "{settings}"


def settings_args(settings: Mapping[str, Any] | None) -> list[str]:
    """A deployment's settings as ``key=value`` arguments: nested mappings dotted, sorted by key.

    Strings go as they are; other values as JSON, which the app reads back as YAML scalars.

    Example:
        >>> settings_args({"feedback": {"sample_rate": 0.2}, "threads": 2, "int8": True})
        ['feedback.sample_rate=0.2', 'int8=true', 'threads=2']

    Raises:
        ConfigurationError: Settings that are not a mapping, or a key that is empty or holds ``=``.
    """
    if settings is not None and not isinstance(settings, Mapping):
        raise ConfigurationError(
            f"settings must be a mapping of key to value, not {type(settings).__name__}",
            hint='write them as {"feedback": {"sample_rate": 0.2}} or {"feedback.sample_rate": 0.2}',
        )
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        for key, sub in value.items():
            if not isinstance(key, str) or not key or "=" in key or key.startswith("-"):
                raise ConfigurationError(f"{prefix}{key!r} is not a setting's name", hint="use dotted names: threads")
            if isinstance(sub, Mapping) and sub:
                walk(f"{prefix}{key}.", sub)
            else:
                flat[f"{prefix}{key}"] = sub

    walk("", settings or {})
    return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in sorted(flat.items())]


class Lifecycle(BaseModel):
    """How the device runs a component; a model component usually runs nothing.

    ``command`` is an argument list (never a shell string); ``{component}``,
    ``{python}`` and ``{<name>_path}`` placeholders are filled in by the device,
    and an argument ``{settings}`` becomes the deployment's settings for the
    component as ``key=value`` arguments (:func:`settings_args`).
    ``unpack`` names the zip files to extract into the component folder.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: list[str] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    restart: Literal["never", "on-failure", "always"] = "on-failure"
    max_restarts: int = Field(default=3, ge=0)
    restart_window_s: float = Field(default=60.0, gt=0)
    unpack: list[str] = Field(default_factory=list)


class Component(BaseModel):
    """A named, versioned, content-addressed unit of deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    version: str
    kind: ComponentKind
    files: list[ComponentFile] = Field(min_length=1)
    lifecycle: Lifecycle = Lifecycle()
    dependencies: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        return str(Version(value))

    @field_validator("dependencies")
    @classmethod
    def _ranges(cls, value: dict[str, str]) -> dict[str, str]:
        for spec in value.values():
            check_range(spec)
        return value

    @field_validator("files")
    @classmethod
    def _unique_names(cls, files: list[ComponentFile]) -> list[ComponentFile]:
        names = [f.name for f in files]
        if len(set(names)) != len(names):
            raise ValueError(f"a component lists a file twice: {sorted(names)}")
        return files

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of this component document."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()


def unmet_dependencies(components: Mapping[str, Component]) -> list[str]:
    """What a set of components (name → the version to run) lacks; empty when all are met.

    Example:
        >>> unmet_dependencies({})
        []
    """
    problems = []
    for component in components.values():
        for name, spec in sorted(component.dependencies.items()):
            other = components.get(name)
            if other is None:
                problems.append(f"{component.key} needs {name} {spec}, which is not part of the set")
            elif not satisfies(other.version, spec):
                problems.append(f"{component.key} needs {name} {spec}, but the set has {other.version}")
    return problems
