"""What a nucleus needs to know about its device, built once by the entry point.

:class:`AgentConfig` is the constructor signature of :class:`~qiloop.edge.agent.nucleus.Nucleus`
saved as data: ``qiloop agent run`` builds it from its options, tests build it directly.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from qiloop.core.components import NAME_PATTERN


class AgentConfig(BaseModel):
    """One device's identity, where it talks to, and how patient it is.

    Attributes:
        home: The device home folder (components, state, trusted keys).
        device_id: This device's name; deployments for other devices are refused.
        groups: Groups the device belongs to; it follows their deployment topics too.
        broker_url: MQTT broker for deployments and reports.
        controller_url: Base URL of the fleet controller's file server.
        camera_dir: Folder the inference component watches (filled into ``{camera_dir}``).
        health_window_s: How long a restarted component process must stay up to pass.
        model_check_timeout_s: Most seconds a model's test inference may take.
        download_retry_s: How long an unreachable file server is retried before the deployment fails.
        stop_timeout_s: Grace between SIGTERM and SIGKILL when stopping a component.
        enroll_token: A one-time token from ``qiloop fleet enroll-token`` (entry points read it from
            ``QILOOP_ENROLL_TOKEN``): the hello then proves the device key is the one to enroll.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path
    device_id: str = Field(pattern=NAME_PATTERN)
    groups: list[str] = Field(default_factory=list)
    broker_url: str = "mqtt://127.0.0.1:1883"
    controller_url: str = "http://127.0.0.1:8470"
    camera_dir: Path | None = None
    health_window_s: float = Field(default=5.0, ge=0)
    model_check_timeout_s: float = Field(default=60.0, gt=0)
    download_retry_s: float = Field(default=300.0, ge=0)
    stop_timeout_s: float = Field(default=10.0, gt=0)
    enroll_token: SecretStr | None = None

    @field_validator("home", "camera_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Component processes run in their own folders: every path handed to them must be absolute.
        return None if value is None else Path(value).expanduser().absolute()

    @property
    def camera_folder(self) -> Path:
        """The camera folder, by default ``<home>/camera``."""
        return self.camera_dir or self.home / "camera"
