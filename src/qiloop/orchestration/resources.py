"""Resources: the stores, the registry, the labelling database and the fleet, built from qiloop's settings.

Each resource is configuration only (a home folder and an optional URL that
overrides the settings'), so a deployment swaps one by configuring it, and
nothing is opened before a step asks: settings are read and backends opened on
first use inside a run or a sensor tick, never when the definitions are imported.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from qiloop.core.errors import ConfigurationError
from qiloop.settings import Settings, load_settings


class QiloopResource(dg.ConfigurableResource):
    """What every qiloop resource shares: where the settings come from.

    ``home`` unset reads ``QILOOP_HOME`` / ``qiloop.toml`` as the CLI does, when first used.
    """

    home: str | None = Field(default=None, description="The qiloop home; unset: QILOOP_HOME or qiloop.toml.")
    _opened: Any = PrivateAttr(default=None)

    def settings(self, **overrides: Any) -> Settings:
        """The settings this resource stands for (read now, not at import)."""
        given = {k: v for k, v in overrides.items() if v not in (None, "")}
        if self.home:
            given["home"] = self.home
        return load_settings(**given)

    def _once(self, build) -> Any:
        if self._opened is None:
            self._opened = build()
        return self._opened


class ImageStoreResource(QiloopResource):
    """The image store (``image_store_url``), opened on first use."""

    url: str | None = Field(default=None, description="Overrides image_store_url (a folder or s3:// URL).")

    def open(self):
        from qiloop.storage import ImageStore

        return self._once(lambda: ImageStore.from_settings(self.settings(image_store_url=self.url)))

    def location(self) -> tuple[str, dict[str, str]]:
        """The store's URL and storage options, for the cheap columnar queries of the triggers."""
        settings = self.settings(image_store_url=self.url)
        return settings.image_store_url, settings.storage_options(settings.image_store_url)


class LabelStoreResource(QiloopResource):
    """The label store (``label_store_url``)."""

    url: str | None = Field(default=None, description="Overrides label_store_url.")

    def open(self):
        from qiloop.labelstore import LabelStore

        return self._once(lambda: LabelStore.from_settings(self.settings(label_store_url=self.url)))


class RegistryResource(QiloopResource):
    """The model registry (MLflow and qiloop's approval record) and the model the loop trains."""

    tracking_uri: str | None = Field(default=None, description="Overrides mlflow_tracking_uri.")
    model_name: str = Field(default="scratch-detector", description="The registered model the loop trains.")

    def open(self):
        import importlib.util

        from qiloop.core.errors import MissingDependencyError

        if importlib.util.find_spec("mlflow") is None:  # found, not imported: the registry loads MLflow when used
            raise MissingDependencyError("mlflow", "registry")
        from qiloop.registry import ModelRegistry

        return self._once(lambda: ModelRegistry.from_settings(self.settings(mlflow_tracking_uri=self.tracking_uri)))


class LabelingDatabaseResource(QiloopResource):
    """The labelling service's database (``labeling_db_url``)."""

    url: str | None = Field(default=None, description="Overrides labeling_db_url (a SQLAlchemy URL).")

    def open(self):
        from qiloop.core.errors import require

        require("sqlalchemy", "label")
        from qiloop.labeling.db import Database

        return self._once(lambda: Database.from_settings(self.settings(labeling_db_url=self.url)))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._opened is not None:
            self._opened.dispose()


class FleetResource(QiloopResource):
    """The fleet controller of the home (``fleet.db``, signing keys, component store) and the rollout policy."""

    group: str | None = Field(default=None, description="Device group new models roll out to; unset: rollout_group.")
    canary: int = Field(default=1, ge=0, description="Devices that get a new model first.")
    soak_s: float = Field(default=30.0, ge=0, description="How long the canaries must stay healthy.")
    health_timeout_s: float = Field(default=60.0, gt=0, description="How long a canary may take to succeed.")
    wait_s: float = Field(
        default=0.0, ge=0, description="How long the rollout step waits for the outcome (0: record it and return)."
    )

    def open(self):
        from qiloop.fleet.controller import FleetController

        return self._once(lambda: FleetController.from_settings(self.settings()))

    def target(self) -> str:
        return self.group or self.settings().rollout_group

    def policy(self):
        from qiloop.core.deployments import RolloutPolicy

        return RolloutPolicy(canary=self.canary, soak_s=self.soak_s, health_timeout_s=self.health_timeout_s)


class LoopResource(QiloopResource):
    """The loop's own knobs: the camera folder and the counts that start the next step."""

    camera_folder: str | None = Field(default=None, description="Overrides camera_folder.")
    label_job_min_images: int | None = Field(default=None, description="Overrides label_job_min_images.")
    retrain_after_labels: int | None = Field(default=None, description="Overrides retrain_after_labels.")
    training_profile: str | None = Field(default=None, description="Overrides training_profile.")
    training_overrides: list[str] = Field(default_factory=list, description="key=value training overrides.")
    gpu_training: bool = Field(default=False, description="Train on a GPU node (Kubernetes) and device 0.")

    def loop_settings(self) -> Settings:
        return self.settings(
            camera_folder=self.camera_folder,
            label_job_min_images=self.label_job_min_images,
            retrain_after_labels=self.retrain_after_labels,
            training_profile=self.training_profile,
        )


def resources_for(
    settings: Settings | None = None, **swap: dg.ConfigurableResource | Mapping[str, Any]
) -> dict[str, Any]:
    """Every resource the definitions use, for ``settings`` (default: read when first used).

    ``swap`` replaces any of them by key: a resource (``fleet=FleetResource(home=..., group="line-2")``), or
    a mapping of fields changed on the one built here (``fleet={"wait_s": 60, "soak_s": 2}``).
    """
    home = None if settings is None else str(settings.home)
    fields: dict[str, tuple[type[QiloopResource], dict[str, Any]]] = {
        "images": (ImageStoreResource, {"url": None if settings is None else settings.image_store_url}),
        "labels": (LabelStoreResource, {"url": None if settings is None else settings.label_store_url}),
        "registry": (RegistryResource, {"tracking_uri": None if settings is None else settings.mlflow_tracking_uri}),
        "labeling_db": (LabelingDatabaseResource, {"url": None if settings is None else settings.labeling_db_url}),
        "fleet": (FleetResource, {}),
        "loop": (LoopResource, {}),
    }
    if settings is not None:
        fields["loop"][1].update(
            camera_folder=str(settings.camera_folder),
            label_job_min_images=settings.label_job_min_images,
            retrain_after_labels=settings.retrain_after_labels,
            training_profile=settings.training_profile,
        )
    unknown = sorted(set(swap) - set(fields))
    if unknown:
        raise ConfigurationError(f"no resource named {unknown}", hint=f"resources are {sorted(fields)}")
    resources: dict[str, Any] = {}
    for key, (cls, given) in fields.items():
        change = swap.get(key)
        if isinstance(change, dg.ConfigurableResource):
            resources[key] = change
        else:
            resources[key] = cls(home=home, **{**given, **dict(change or {})})
    return resources
