"""From the registry to a rollout: the hooks ``qiloop deploy`` and orchestration call.

:func:`deploy_model` builds the model component from a registry version's package,
keeps the inference code component the fleet already runs (publishing one from the
installed source only when none exists yet), and records a rollout of both: devices
that already have the code download the model alone. :func:`deploy_code` ships a code
change without the model. :func:`inference_settings` is the configuration that sets the
inference app's settings (its feedback policy, threads, ...) for a rollout's devices.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from qiloop.core.components import SETTINGS, Component
from qiloop.core.deployments import RolloutPolicy, Target
from qiloop.core.errors import NotFoundError
from qiloop.fleet.controller import FleetController
from qiloop.fleet.packaging import INFERENCE_NAME, inference_component, model_component
from qiloop.fleet.rollout import Rollout


def component_name(model_name: str) -> str:
    """A registry model name as a component name (lowercase, ``-`` for anything else).

    Example:
        >>> component_name("Scratch Detector")
        'scratch-detector'
    """
    return re.sub(r"[^a-z0-9._-]+", "-", model_name.lower()).strip("-")[:64]


def model_from_registry(controller: FleetController, registry, ref: str | None = None) -> Component:
    """Publish the model component of ``ref`` (default: the production version) to the component store.

    Only a version qiloop's approval record stands behind is published: a
    ``production`` alias moved in MLflow's UI is refused, naming the approved version.

    Raises:
        NotFoundError: No such version, or no approved version when ``ref`` is not given.
        ApprovalError: The approval record does not stand behind the version.
    """
    if not ref and registry.production() is None:
        raise NotFoundError(
            "the registry has no production model to deploy",
            hint="approve a version (qiloop models approve NAME/VERSION) or pass --model NAME/VERSION",
        )
    version = registry.approved(ref) if ref else registry.approved()
    with tempfile.TemporaryDirectory(prefix="qiloop-deploy-") as tmp:
        package = registry.download(version.ref, Path(tmp) / "package")
        return model_component(controller.store, package, name=component_name(version.name))


def current_code(controller: FleetController, model_name: str) -> Component:
    """The inference code component the fleet runs for ``model_name``; published from source if none exists."""
    latest = controller.store.latest(INFERENCE_NAME)
    if latest is not None and model_name in latest.dependencies:
        return latest
    return inference_component(controller.store, model_name=model_name)


def deploy_model(
    controller: FleetController, registry, target: Target | str, ref: str | None = None, *,
    policy: RolloutPolicy | None = None, configuration: dict | None = None, allow_new_target: bool = False,
    fresh_code: bool = False,
) -> Rollout:  # fmt: skip
    """Record a rollout of a registry model version with the current inference code; the orchestration hook.

    ``fresh_code`` ships the inference code as installed now instead (a new version only when it changed).

    Raises:
        NotFoundError: The fleet knows no such group or device (unless ``allow_new_target``),
            checked before anything is published; or the registry has no such version.
    """
    if not allow_new_target:
        controller.check_target(target)
    model = model_from_registry(controller, registry, ref)
    code = (
        inference_component(controller.store, model_name=model.name)
        if fresh_code
        else current_code(controller, model.name)
    )
    return controller.deploy([model, code], target, configuration, policy, allow_new_target=True)


def inference_settings(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A rollout configuration that gives the inference app ``settings`` (``{}``: its defaults) on every device.

    Check them first with the app's own rules (``AppConfig.deployment_settings`` on the device side).
    """
    return {INFERENCE_NAME: {SETTINGS: settings} if settings else {}}


def deploy_code(
    controller: FleetController, model_name: str, target: Target | str, *, policy: RolloutPolicy | None = None,
    source: str | Path | None = None, configuration: dict | None = None, allow_new_target: bool = False,
) -> Rollout:  # fmt: skip
    """Record a rollout of the inference code as it is installed now (a new version only when it changed).

    Raises:
        NotFoundError: The fleet knows no such group or device (unless ``allow_new_target``).
    """
    if not allow_new_target:
        controller.check_target(target)
    code = inference_component(controller.store, model_name=model_name, source=source)
    return controller.deploy([code], target, configuration, policy, allow_new_target=True)
