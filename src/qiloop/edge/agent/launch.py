"""What the running set's processes look like: placeholders, configuration, and convergence.

Pure functions over the device home and the nucleus state: which processes the
running set needs, with every placeholder filled, and which deployment configured
each running component. :func:`converge` makes the supervisor match them, restarting
only the components whose version, model or configuration changed.
"""

from __future__ import annotations

import sys
from typing import Any

from qiloop.core.components import SETTINGS, Component, ComponentKind, settings_args
from qiloop.core.deployments import Deployment, DeploymentState, SignedDeployment
from qiloop.edge.agent.config import AgentConfig
from qiloop.edge.agent.home import DeviceHome
from qiloop.edge.agent.installer import installed
from qiloop.edge.agent.state import AgentState
from qiloop.edge.agent.supervisor import ProcessSpec, Supervisor


def configuration_of(state: AgentState, running: dict[str, str], deployment: Deployment | None = None) -> dict:
    """name → the configuration of the deployment that installed that running version.

    The latest succeeded deployment naming a component at its running version wins;
    ``deployment`` (the one in progress) wins over all.
    """
    found: dict[str, dict[str, Any]] = {}
    done = [r for r in reversed(state.history(500)) if r.state == DeploymentState.SUCCEEDED]
    documents = [SignedDeployment.model_validate_json(r.document).deployment() for r in done]
    for doc in [*documents, *([deployment] if deployment else [])]:
        for ref in doc.components:
            if running.get(ref.name) == ref.version:
                found[ref.name] = doc.configuration.get(ref.name, {})
    return found


def process_specs(home: DeviceHome, config: AgentConfig, running: dict[str, str], configuration: dict) -> dict:
    """name → :class:`ProcessSpec` for every running component that has a command."""
    components = {n: c for n, v in running.items() if (c := installed(home, n, v)) is not None}
    paths = {f"{n}_path": str(home.version_dir(n, c.version)) for n, c in components.items()}
    specs = {}
    for name, component in components.items():
        if not component.lifecycle.command:
            continue
        folder = home.version_dir(name, component.version)
        data = home.root / "data" / name
        data.mkdir(parents=True, exist_ok=True)
        config.camera_folder.mkdir(parents=True, exist_ok=True)
        values = {
            **paths,
            **{k: str(v) for k, v in configuration.get(name, {}).items() if k != SETTINGS},
            "python": sys.executable,
            "component": str(folder),
            "data_dir": str(data),
            "device_id": config.device_id,
            "broker_url": config.broker_url,
            "camera_dir": str(config.camera_folder),
        }
        model = _model_of(component, components)
        if model is not None:
            values["model_path"] = str(home.version_dir(model.name, model.version))
        settings = settings_args(configuration.get(name, {}).get(SETTINGS))
        specs[name] = ProcessSpec.build(name, component.version, component.lifecycle, values, folder, settings)
    return specs


def _model_of(component: Component, components: dict[str, Component]) -> Component | None:
    """The model a component runs: its model dependency, else the only model in the set."""
    models = {n: c for n, c in components.items() if c.kind == ComponentKind.MODEL}
    for name in component.dependencies:
        if name in models:
            return models[name]
    return next(iter(models.values())) if len(models) == 1 else None


def converge(supervisor: Supervisor, specs: dict[str, ProcessSpec]) -> list[str]:
    """Stop what ``specs`` does not name, (re)start what changed or died; the names (re)started."""
    for name in list(supervisor.children):
        if name not in specs:
            supervisor.stop(name)
    started = []
    for name, spec in sorted(specs.items()):
        child = supervisor.children.get(name)
        if child is None or child.spec != spec or not supervisor.alive(name):
            supervisor.start(spec)
            started.append(name)
    return started
