"""What the nucleus tells the fleet controller: deployment reports and its hello.

- Deployments: the controller publishes the :class:`~qiloop.core.deployments.SignedDeployment`
  JSON *retained* on the target's deployment topic (:mod:`qiloop.protocol.topics`); a device
  that connects later (or restarts) receives the latest one at once.
- Reports: the nucleus publishes a :class:`DeploymentReport` for each state it enters on
  ``qiloop/devices/<id>/deployments`` (QoS 1, through its durable outbox) and announces
  itself with a retained :class:`DeviceHello` on ``qiloop/devices/<id>/hello``.

Both leave the device signed by its key (:mod:`qiloop.protocol.signed`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qiloop.core.deployments import DeploymentState


def _now() -> datetime:
    return datetime.now(timezone.utc)


class DeploymentReport(BaseModel):
    """One state of one deployment on one device (``sequence`` is the outbox's, for de-duplication)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["deployment"] = "deployment"
    time: datetime = Field(default_factory=_now)
    device_id: str = Field(min_length=1)
    deployment_id: str
    target: str
    deployment_sequence: int = Field(ge=0)
    state: DeploymentState
    detail: str = ""
    running: dict[str, str] = Field(default_factory=dict)
    bytes_downloaded: int = Field(default=0, ge=0)
    sequence: int | None = None

    def body(self) -> dict:
        return self.model_dump(mode="json", exclude={"sequence"})


class DeviceHello(BaseModel):
    """A device's identity, published retained when its nucleus connects and after every change.

    ``sequence`` is the device's hello counter (it goes up with every hello; the fleet drops one
    that is not above the last it accepted).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["hello"] = "hello"
    time: datetime = Field(default_factory=_now)
    device_id: str = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)
    public_key: str = ""
    running: dict[str, str] = Field(default_factory=dict)
    failed: list[str] = Field(default_factory=list)  # components in a crash loop since they started
    agent_version: str = ""
    enrollment: str = ""  # proof of a one-time enrollment token (qiloop.protocol.enrollment), or empty
    sequence: int | None = None

    def body(self) -> dict:
        return self.model_dump(mode="json", exclude={"sequence"})
