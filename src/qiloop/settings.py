"""Typed settings: where every part of qiloop keeps its data.

Every backend is a URL, so moving a part from the laptop to real infrastructure
is a change of URL, not of code. Values come from (highest first) constructor
arguments, ``QILOOP_*`` environment variables, a ``qiloop.toml`` file
(``QILOOP_CONFIG`` or ``./qiloop.toml``), then the embedded defaults under
``QILOOP_HOME`` (default ``./.qiloop``).

Settings are built by entry points (CLI, services, tests), never at import time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from qiloop.core.errors import ConfigurationError


def _toml_file() -> Path:
    return Path(os.environ.get("QILOOP_CONFIG", "qiloop.toml"))


class Settings(BaseSettings):
    """All of qiloop's configuration in one validated object.

    Example:
        >>> s = Settings(home="/tmp/qi")
        >>> s.image_store_url
        '/tmp/qi/images'
    """

    model_config = SettingsConfigDict(env_prefix="QILOOP_", extra="ignore", validate_default=True)

    home: Path = Field(default=Path(".qiloop"), description="Folder that holds every embedded backend.")
    image_store_url: str = Field(default="", description="Image store: a folder or any fsspec URL (s3://...).")
    label_store_url: str = Field(default="", description="Label store: the Delta table's folder or s3:// URL.")
    labeling_db_url: str = Field(default="", description="Labelling service database (SQLAlchemy URL).")
    mlflow_tracking_uri: str = Field(default="", description="MLflow tracking URI.")
    mlflow_artifact_root: str = Field(default="", description="Where MLflow stores artefacts (folder or s3://).")
    mqtt_url: str | None = Field(default=None, description="MQTT broker URL; unset starts an embedded broker.")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, moto, ...).")
    # The fleet's component downloads (see qiloop.fleet.file_server).
    component_store_url: str = Field(default="", description="Component store: a folder or s3:// URL "
                                     "(default <home>/components).")  # fmt: skip
    fleet_download_tokens: bool = Field(default=False, description="The component file server requires each "
                                        "device's token (qiloop fleet download-url prints its URL).")  # fmt: skip
    fleet_tls_cert_file: Path | None = Field(default=None, description="Serve components over HTTPS with this "
                                             "PEM certificate.")  # fmt: skip
    fleet_tls_key_file: Path | None = Field(default=None, description="The key of fleet_tls_cert_file.")
    fleet_presign_s: float = Field(
        default=0.0,
        ge=0,
        description="With the component store on S3: devices download by presigned URLs valid this long "
        "(0: through the controller).",
    )
    group_pattern: str = Field(
        default=r"^(?P<group>.+?)-cropped",
        description="Regex on an image's file name; its 'group' (or first) capture keeps related images "
        "in one data split. Names that do not match are their own group.",
    )
    classes: list[str] = Field(default=["scratch"], min_length=1, description="Label class names; index = class id.")
    max_image_pixels: int = Field(default=64_000_000, gt=0, description="Larger images are refused as bombs.")
    fleet_db_url: str = Field(default="", description="The fleet registry's database (SQLAlchemy URL: devices, "
                              "rollouts, keys); default sqlite:///<home>/fleet.db.")  # fmt: skip
    fleet_results_url: str = Field(default="", description="The fleet's results and status Delta tables (folder "
                                   "or s3://); default <home>/fleet-results.")  # fmt: skip
    fleet_results_batch: int = Field(default=5000, gt=0, description="Results per Delta commit at most.")
    fleet_results_flush_s: float = Field(default=2.0, gt=0, description="Longest wait before results are committed.")
    fleet_dedupe_window_s: float = Field(default=86_400.0, gt=0, description="How long a device message's "
                                         "(device_id, sequence) is remembered to drop re-deliveries.")  # fmt: skip
    fleet_journal_fsync: bool = Field(default=False, description="Sync each received device message to disk "
                                      "before acknowledging it (survives power loss; slower).")  # fmt: skip
    fleet_offline_after_s: float = Field(default=120.0, gt=0, description="A device not heard from for this long "
                                         "is offline.")  # fmt: skip
    fleet_alert_webhook_url: str | None = Field(default=None, description="POST every new fleet alert here (JSON).")
    fleet_alert_labeling: bool = Field(default=False, description="A drift or defect-rate alert opens a labelling "
                                       "job on the device's recent feedback images.")  # fmt: skip
    # The loop's triggers (orchestration): what starts the next step without a person.
    camera_folder: Path | None = Field(default=None, description="Folder cameras drop new images into (<home>/camera).")
    label_job_min_images: int = Field(
        default=20, ge=1, description="New images waiting for labels that open a labelling job (feedback opens one)."
    )
    retrain_after_labels: int = Field(
        default=12, ge=1, description="Newly approved labels since the last training that start a training run."
    )
    rollout_group: str = Field(default="line-1", min_length=1, description="Device group new models roll out to.")
    training_profile: str = Field(default="default", description="Training profile the orchestration trains with.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_toml_file()),
        )

    @field_validator("group_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"group_pattern is not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _defaults_under_home(self) -> Settings:
        home = self.home
        if self.camera_folder is None:
            self.camera_folder = home / "camera"
        if not self.image_store_url:
            self.image_store_url = str(home / "images")
        if not self.label_store_url:
            self.label_store_url = str(home / "labels")
        if not self.fleet_results_url:
            self.fleet_results_url = str(home / "fleet-results")
        if not self.fleet_db_url:
            self.fleet_db_url = f"sqlite:///{home / 'fleet.db'}"
        if not self.labeling_db_url:
            self.labeling_db_url = f"sqlite:///{home / 'labeling.db'}"
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        if not self.mlflow_artifact_root and not self.mlflow_tracking_uri.startswith(("http://", "https://")):
            self.mlflow_artifact_root = str(home / "mlflow" / "artifacts")
        return self

    def uses_home(self) -> bool:
        """Whether some backend keeps its data under ``home`` (a local path or a SQLite file there)."""
        urls = (self.image_store_url, self.label_store_url, self.labeling_db_url, self.mlflow_tracking_uri)
        paths = [Path(url.removeprefix("sqlite:///").removeprefix("file://")) for url in urls if "://" not in url
                 or url.startswith(("sqlite:///", "file://"))]  # fmt: skip
        return any(path.is_relative_to(self.home) for path in paths)

    def storage_options(self, url: str) -> dict[str, str]:
        """Options for fsspec / delta-rs when ``url`` is on S3 (endpoint, region)."""
        if not url.startswith(("s3://", "s3a://")):
            return {}
        opts: dict[str, str] = {}
        if self.s3_endpoint_url:
            opts["endpoint_url"] = self.s3_endpoint_url
        return opts


def load_settings(**overrides) -> Settings:
    """Build settings, turning validation failures into an actionable error."""
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ConfigurationError(
            f"invalid qiloop settings: {exc}",
            hint="check the QILOOP_* environment variables and qiloop.toml",
        ) from exc
