"""Deployments: which component versions a device or a group should run, signed.

A :class:`Deployment` is signed as the exact bytes of its canonical JSON; the
:class:`SignedDeployment` envelope carries those bytes (``document``), the key
id and the Ed25519 signature, so a device verifies the bytes it received before
it parses anything. ``sequence`` only goes up per target: a device refuses a
deployment whose sequence is not above the last one it accepted (no replays).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qiloop.core.components import NAME_PATTERN, canonical_json
from qiloop.core.errors import InvalidRecordError
from qiloop.core.versions import Version


class DeploymentState(str, Enum):
    """What a device reports; the last four end a deployment, exactly one of them per id."""

    RECEIVED = "RECEIVED"
    DOWNLOADING = "DOWNLOADING"
    INSTALLING = "INSTALLING"
    HEALTH_CHECK = "HEALTH_CHECK"
    SUCCEEDED = "SUCCEEDED"
    FAILED_ROLLBACK_COMPLETE = "FAILED_ROLLBACK_COMPLETE"
    FAILED_ROLLBACK_FAILED = "FAILED_ROLLBACK_FAILED"
    REJECTED = "REJECTED"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        DeploymentState.SUCCEEDED,
        DeploymentState.FAILED_ROLLBACK_COMPLETE,
        DeploymentState.FAILED_ROLLBACK_FAILED,
        DeploymentState.REJECTED,
    }
)


class Target(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["device", "group"]
    name: str = Field(pattern=NAME_PATTERN)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class ComponentRef(BaseModel):
    """A component version fixed by the digest of its document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    version: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        return str(Version(value))


class RolloutPolicy(BaseModel):
    """Canary first; the rest only after the canary succeeded and stayed healthy for ``soak_s``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    canary: int = Field(default=1, ge=0)
    soak_s: float = Field(default=30.0, ge=0)
    max_failure_fraction: float = Field(default=0.2, ge=0, le=1)
    health_timeout_s: float = Field(default=60.0, gt=0)


class Deployment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, pattern=r"^[0-9a-f]{32}$")
    sequence: int = Field(ge=1)
    target: Target
    components: list[ComponentRef] = Field(min_length=1)
    configuration: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rollout: RolloutPolicy = RolloutPolicy()
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    expires_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc) + timedelta(days=7))

    def canonical(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))

    def component(self, name: str) -> ComponentRef | None:
        return next((c for c in self.components if c.name == name), None)


class SignedDeployment(BaseModel):
    """The envelope on the wire: the signed bytes, who signed them, and the signature (base64)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    document: str = Field(min_length=2)
    key_id: str = Field(min_length=1)
    algorithm: Literal["ed25519"] = "ed25519"
    signature: str = Field(min_length=1)

    def deployment(self) -> Deployment:
        """Parse the signed document (call only after the signature was verified)."""
        try:
            return Deployment.model_validate_json(self.document)
        except ValidationError as exc:
            raise InvalidRecordError(f"the deployment document is malformed: {exc.errors()[0]['msg']}") from exc


def admission_problem(
    deployment: Deployment, *, device_id: str, groups: set[str], last_sequence: int, now: datetime
) -> str | None:
    """Why a device must refuse a (verified) deployment, or None when it may install it."""
    target = deployment.target
    if target.kind == "device" and target.name != device_id:
        return f"deployment {deployment.id} targets device {target.name!r}, not {device_id!r}"
    if target.kind == "group" and target.name not in groups:
        return f"deployment {deployment.id} targets group {target.name!r}, which {device_id!r} is not in"
    if deployment.expires_at <= now:
        return f"deployment {deployment.id} expired at {deployment.expires_at.isoformat()}"
    if deployment.sequence <= last_sequence:
        return f"deployment {deployment.id} has sequence {deployment.sequence}, not above {last_sequence} (replay)"
    return None
