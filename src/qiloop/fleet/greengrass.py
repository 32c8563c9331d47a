"""Export components and deployments as AWS IoT Greengrass v2 recipes and deployment JSON.

For users who run Greengrass instead of the qiloop nucleus. :func:`recipe` and
:func:`deployment_document` are pure conversions (recipe format ``2020-01-25``;
the deployment in the shape of Greengrass's ``CreateDeployment`` request);
:func:`export` writes them with the artefacts laid out for an S3 upload. Mapping:

- versions become semantic versions (``3`` → ``3.0.0``, ``1.4`` → ``1.4.0``), and
  dependency ranges npm-style ranges (``>=1,<2`` → ``>=1.0.0 <2.0.0``);
- artefacts get ``Uri`` ``s3://<bucket>/<prefix>/<name>/<version>/<file>``, ``Digest`` (base64 of the
  sha256), ``Algorithm`` ``SHA-256``, and ``Unarchive`` ``ZIP`` for the archives the lifecycle unpacks;
- the ``{settings}`` argument becomes ``{configuration:/settings}``, unquoted in the Run script, and a
  deployment's settings one shell-quoted ``key=value`` string in its configuration merge;
- lifecycle placeholders become recipe variables: ``{component}`` →
  ``{artifacts:decompressedPath}/<zip stem>``, ``{<model>_path}`` / ``{model_path}`` →
  ``{<model>:artifacts:path}``, ``{device_id}`` → ``{iot:thingName}``, anything else →
  ``{configuration:/<name>}`` (with a default configuration to fill in);
- the rollout policy becomes the IoT job's abort criteria and the canary its minimum executed things;
- a component with a command gets an ``Install`` step that makes a virtual environment in its work
  folder and installs the device's Python packages into it (qiloop's own requirements and its ``edge``
  extra, as :func:`device_requirements` reads them from the installed qiloop), and ``{python}``
  becomes that environment's interpreter: the recipe runs against what it installed, not against
  whatever happens to be on the device.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qiloop.core.components import SETTINGS, SETTINGS_ARG, Component, ComponentKind, settings_args
from qiloop.core.deployments import Deployment
from qiloop.core.errors import ConfigurationError
from qiloop.core.versions import Version

RECIPE_FORMAT = "2020-01-25"
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")
_CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<|\^)?\s*(\d+(?:\.\d+)*)$")
VENV = "{work:path}/venv"
INSTALL_TIMEOUT_S = 1800  # onnxruntime and numpy over a slow link
DEFAULTS = {"python": "python3", "broker_url": "mqtt://127.0.0.1:1883", "camera_dir": "/var/lib/qiloop/camera",
            "data_dir": "/var/lib/qiloop/data"}  # fmt: skip


def semver(version: str) -> str:
    """A component version as MAJOR.MINOR.PATCH.

    Example:
        >>> semver("3"), semver("1.4"), semver("2.0.1")
        ('3.0.0', '1.4.0', '2.0.1')
    """
    parts = Version(version).text.split(".")
    if len(parts) > 3:
        raise ConfigurationError(
            f"version {version} has more than three parts", hint="Greengrass needs MAJOR.MINOR.PATCH versions"
        )
    return ".".join(str(int(p)) for p in [*parts, "0", "0"][:3])


def version_requirement(spec: str) -> str:
    """A qiloop version range as a Greengrass (npm-style) version requirement.

    Example:
        >>> [version_requirement(s) for s in (">=1,<2", "^1.2", "3", "*")]
        ['>=1.0.0 <2.0.0', '^1.2.0', '=3.0.0', '*']
    """
    if spec.strip() in ("", "*"):
        return "*"
    out = []
    for clause in spec.split(","):
        match = _CLAUSE.match(clause.strip())
        op, bound = (match.group(1) or "==", match.group(2)) if match else ("==", clause.strip())
        out.append(f"{'=' if op == '==' else op}{semver(bound)}")
    return " ".join(out)


def device_requirements(extra: str = "edge") -> list[str]:
    """What ``pip install qiloop[edge]`` installs besides qiloop: its own requirements and the extra's.

    Read from the installed qiloop's metadata, so the recipe asks for the same versions as this install.

    Example:
        >>> any(r.startswith("onnxruntime") for r in device_requirements())
        True
    """
    from importlib.metadata import requires

    found = []
    for line in requires("qiloop") or []:
        spec, _, marker = line.partition(";")
        if spec.strip().startswith("qiloop"):
            continue  # another extra of qiloop's (the edge extra names none)
        compact = marker.replace(" ", "").replace("'", '"')
        if "extra==" not in compact:
            found.append(line.strip())  # a base requirement, with its own marker (pip reads it on the device)
        elif compact == f'extra=="{extra}"':
            found.append(spec.strip())
    return found


def install_script(requirements: Sequence[str]) -> str:
    """The Greengrass ``Install`` script: a virtual environment in the work folder with ``requirements``."""
    pip = f"{VENV}/bin/pip"
    return (f"{{configuration:/python}} -m venv {VENV} && {pip} install --disable-pip-version-check --no-input "
            "--no-compile "  # bytecode only for what the device imports, written at its first start
            + shlex.join(requirements))  # fmt: skip


def recipe(
    component: Component, *, bucket: str = "YOUR-BUCKET", prefix: str = "qiloop", requirements: Sequence[str] = ()
) -> dict[str, Any]:
    """The Greengrass v2 recipe of ``component`` (artefacts expected at ``s3://bucket/prefix/...``).

    With ``requirements`` (pip specifiers), a component with a command installs them into a virtual
    environment of its own first and runs with that environment's Python.
    """
    version = semver(component.version)
    artifacts = []
    for f in component.files:
        entry = {
            "Uri": f"s3://{bucket}/{prefix}/{component.name}/{version}/{f.name}",
            "Digest": base64.b64encode(bytes.fromhex(f.sha256)).decode(),
            "Algorithm": "SHA-256",
            "Unarchive": "ZIP" if f.name in component.lifecycle.unpack else "NONE",
            "Permission": {"Read": "OWNER", "Execute": "NONE"},
        }
        artifacts.append(entry)
    manifest: dict[str, Any] = {"Platform": {"os": "linux"}, "Artifacts": artifacts}
    configuration: dict[str, str] = {}
    if component.lifecycle.command:
        venv = bool(requirements)
        run = " ".join(_argument(arg, component, configuration, venv=venv) for arg in component.lifecycle.command)
        setenv = {k: _variables(v, component, configuration, venv=venv)
                  for k, v in component.lifecycle.environment.items()}  # fmt: skip
        lifecycle: dict[str, Any] = {}
        if venv:
            configuration.setdefault("python", DEFAULTS["python"])  # the interpreter that makes the environment
            lifecycle["Install"] = {"Script": install_script(requirements), "Timeout": INSTALL_TIMEOUT_S}
        lifecycle["Run"] = {"Script": run, "Setenv": setenv} if setenv else {"Script": run}
        manifest["Lifecycle"] = lifecycle
    document: dict[str, Any] = {
        "RecipeFormatVersion": RECIPE_FORMAT,
        "ComponentName": component.name,
        "ComponentVersion": version,
        "ComponentType": "aws.greengrass.generic",
        "ComponentDescription": component.description or f"qiloop {component.kind.value} component",
        "ComponentPublisher": "qiloop",
    }
    if configuration:
        document["ComponentConfiguration"] = {"DefaultConfiguration": configuration}
    if component.dependencies:
        document["ComponentDependencies"] = {
            name: {"VersionRequirement": version_requirement(spec), "DependencyType": "HARD"}
            for name, spec in sorted(component.dependencies.items())
        }
    document["Manifests"] = [manifest]
    return document


def _argument(arg: str, component: Component, configuration: dict[str, str], *, venv: bool = False) -> str:
    """One argument of the Run script, shell-quoted; ``{settings}`` stays unquoted so its ``key=value`` words split."""
    if arg == SETTINGS_ARG:
        configuration[SETTINGS] = ""
        return "{configuration:/" + SETTINGS + "}"
    return shlex.quote(_variables(arg, component, configuration, venv=venv))


def _variables(template: str, component: Component, configuration: dict[str, str], *, venv: bool = False) -> str:
    zips = [Path(name).stem for name in component.lifecycle.unpack]
    models = [n for n in component.dependencies] if component.kind == ComponentKind.INFERENCE else []

    def one(match: re.Match) -> str:
        key = match.group(1)
        if key == "component":
            return "{artifacts:decompressedPath}" + (f"/{zips[0]}" if zips else "")
        if key == "device_id":
            return "{iot:thingName}"
        if key == "python" and venv:
            return f"{VENV}/bin/python"
        if key == "model_path" and models:
            return "{" + models[0] + ":artifacts:path}"
        if key.endswith("_path") and key[: -len("_path")] in component.dependencies:
            return "{" + key[: -len("_path")] + ":artifacts:path}"
        configuration[key] = DEFAULTS.get(key, "")
        return "{configuration:/" + key + "}"

    return _PLACEHOLDER.sub(one, template)


def deployment_document(deployment: Deployment, *, target_arn: str | None = None) -> dict[str, Any]:
    """A Greengrass ``CreateDeployment`` request for ``deployment`` (``targetArn`` is a placeholder to fill in)."""
    kind = "thinggroup" if deployment.target.kind == "group" else "thing"
    policy = deployment.rollout
    return {
        "targetArn": target_arn or f"arn:aws:iot:REGION:ACCOUNT_ID:{kind}/{deployment.target.name}",
        "deploymentName": f"qiloop-{deployment.target.name}-{deployment.sequence}",
        "components": {
            ref.name: {
                "componentVersion": semver(ref.version),
                "configurationUpdate": {"merge": json.dumps(_recipe_configuration(deployment, ref.name))},
            }
            for ref in deployment.components
        },
        "deploymentPolicies": {
            "failureHandlingPolicy": "ROLLBACK",
            "componentUpdatePolicy": {"timeoutInSeconds": int(policy.health_timeout_s), "action": "NOTIFY_COMPONENTS"},
            "configurationValidationPolicy": {"timeoutInSeconds": int(policy.health_timeout_s)},
        },
        "iotJobConfiguration": {
            "abortConfig": {
                "criteriaList": [
                    {
                        "failureType": "FAILED",
                        "action": "CANCEL",
                        "thresholdPercentage": round(policy.max_failure_fraction * 100, 2),
                        "minNumberOfExecutedThings": max(1, policy.canary),
                    }
                ]
            },
        },
    }


def _recipe_configuration(deployment: Deployment, name: str) -> dict[str, Any]:
    """A component's configuration as the recipe reads it: its settings one shell-quoted ``key=value`` string."""
    configuration = deployment.configuration.get(name, {})
    if SETTINGS not in configuration:
        return configuration
    return {**configuration, SETTINGS: shlex.join(settings_args(configuration[SETTINGS]))}


def export(
    components: list[Component], read: Callable[[str], bytes], out: Path, *, deployment: Deployment | None = None,
    bucket: str = "YOUR-BUCKET", prefix: str = "qiloop", requirements: Sequence[str] | None = None,
) -> list[Path]:  # fmt: skip
    """Write ``recipes/<name>-<version>.json``, ``artifacts/<name>/<version>/<file>`` and ``deployment.json``.

    ``read`` returns a file's bytes by its sha256 (the component store's ``read_file``). Components with a
    command install ``requirements`` (default: :func:`device_requirements`). Returns the written paths.
    """
    requirements = device_requirements() if requirements is None else requirements
    written = []
    for component in components:
        version = semver(component.version)
        path = out / "recipes" / f"{component.name}-{version}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        document = recipe(component, bucket=bucket, prefix=prefix, requirements=requirements)
        path.write_text(json.dumps(document, indent=2) + "\n")
        written.append(path)
        for f in component.files:
            dest = out / "artifacts" / component.name / version / f.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(read(f.sha256))
            written.append(dest)
    if deployment is not None:
        path = out / "deployment.json"
        path.write_text(json.dumps(deployment_document(deployment), indent=2) + "\n")
        written.append(path)
    return written
