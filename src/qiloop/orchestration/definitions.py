"""``defs``: the loop as Dagster definitions, what ``dagster dev -m qiloop.orchestration.definitions`` loads.

Importing this module reads no settings and opens no store: resources are
configuration that is resolved (``QILOOP_HOME``, ``qiloop.toml``) when a run or a
tick first uses them. A deployment that wants other resources or another
training profile in the code version builds its own with :func:`build_definitions`.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from qiloop.orchestration.assets_data import label_snapshot, labeling_job, new_images
from qiloop.orchestration.assets_model import build_train_asset, model_version
from qiloop.orchestration.assets_rollout import rollout
from qiloop.orchestration.checks import gate
from qiloop.orchestration.code_version import training_code_version
from qiloop.orchestration.jobs import delta_upkeep, ingest_job, labeling_job_job, rollout_job, training_job
from qiloop.orchestration.resources import resources_for
from qiloop.orchestration.schedules import SCHEDULES
from qiloop.orchestration.sensors import SENSORS


def loop_assets(training_profile: str = "default", training_overrides: Sequence[str] = ()) -> list:
    """The asset graph and its gate check, the candidate's code version over that training configuration."""
    from qiloop.training.config import TrainConfig

    config = TrainConfig.resolve(profile=training_profile, overrides=list(training_overrides))
    train = build_train_asset(training_code_version(config))
    return [new_images, labeling_job, label_snapshot, train, model_version, rollout, gate]


def build_definitions(
    *,
    training_profile: str = "default",
    training_overrides: Sequence[str] = (),
    resources: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """The definitions, the candidate's code version taken over ``training_profile`` + ``training_overrides``.

    Args:
        training_profile, training_overrides: The training configuration the code version covers
            (runs may still be configured otherwise; each candidate records the code version it ran with).
        resources: Resources by key (default: :func:`~qiloop.orchestration.resources.resources_for`).
    """
    *assets, check = loop_assets(training_profile, training_overrides)
    automation = dg.AutomationConditionSensorDefinition(
        "qiloop_automation",
        target=dg.AssetSelection.assets("model_version"),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Approves a candidate materialised in another run, once its blocking gate check passed.",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=[check],
        jobs=[ingest_job, labeling_job_job, training_job, rollout_job, delta_upkeep],
        sensors=[*SENSORS, automation],
        schedules=SCHEDULES,
        resources=dict(resources) if resources is not None else resources_for(),
    )  # fmt: skip


defs = build_definitions()
