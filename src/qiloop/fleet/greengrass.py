"""Export components and deployments as AWS IoT Greengrass v2 recipes and deployment JSON.

For users who run Greengrass instead of the qiloop nucleus. :func:`recipe` and
:func:`deployment_document` are pure conversions (recipe format ``2020-01-25``;
the deployment in the shape of Greengrass's ``CreateDeployment`` request);
:func:`export` writes them with the artefacts laid out for an S3 upload. Mapping:

- versions become semantic versions (``3`` → ``3.0.0``, ``1.4`` → ``1.4.0``), and
  dependency ranges npm-style ranges (``>=1,<2`` → ``>=1.0.0 <2.0.0``);
- artefacts get ``Uri`` ``s3://<bucket>/<prefix>/<name>/<version>/<file>``, ``Digest`` (base64 of the
  sha256), ``Algorithm`` ``SHA-256``, and ``Unarchive`` ``ZIP`` for the archives the lifecycle unpacks;
- lifecycle placeholders become recipe variables: ``{component}`` →
  ``{artifacts:decompressedPath}/<zip stem>``, ``{<model>_path}`` / ``{model_path}`` →
  ``{<model>:artifacts:path}``, ``{device_id}`` → ``{iot:thingName}``, anything else →
  ``{configuration:/<name>}`` (with a default configuration to fill in);
- the rollout policy becomes the IoT job's abort criteria and the canary its minimum executed things.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiloop.core.components import Component, ComponentKind
from qiloop.core.deployments import Deployment
from qiloop.core.errors import ConfigurationError
from qiloop.core.versions import Version

RECIPE_FORMAT = "2020-01-25"
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")
_CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<|\^)?\s*(\d+(?:\.\d+)*)$")
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


def recipe(component: Component, *, bucket: str = "YOUR-BUCKET", prefix: str = "qiloop") -> dict[str, Any]:
    """The Greengrass v2 recipe of ``component`` (artefacts expected at ``s3://bucket/prefix/...``)."""
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
        run = shlex.join(_variables(arg, component, configuration) for arg in component.lifecycle.command)
        setenv = {k: _variables(v, component, configuration) for k, v in component.lifecycle.environment.items()}
        manifest["Lifecycle"] = {"Run": {"Script": run, "Setenv": setenv} if setenv else {"Script": run}}
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


def _variables(template: str, component: Component, configuration: dict[str, str]) -> str:
    zips = [Path(name).stem for name in component.lifecycle.unpack]
    models = [n for n in component.dependencies] if component.kind == ComponentKind.INFERENCE else []

    def one(match: re.Match) -> str:
        key = match.group(1)
        if key == "component":
            return "{artifacts:decompressedPath}" + (f"/{zips[0]}" if zips else "")
        if key == "device_id":
            return "{iot:thingName}"
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
                "configurationUpdate": {"merge": json.dumps(deployment.configuration.get(ref.name, {}))},
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


def export(
    components: list[Component], read: Callable[[str], bytes], out: Path, *, deployment: Deployment | None = None,
    bucket: str = "YOUR-BUCKET", prefix: str = "qiloop",
) -> list[Path]:  # fmt: skip
    """Write ``recipes/<name>-<version>.json``, ``artifacts/<name>/<version>/<file>`` and ``deployment.json``.

    ``read`` returns a file's bytes by its sha256 (the component store's ``read_file``). Returns the written paths.
    """
    written = []
    for component in components:
        version = semver(component.version)
        path = out / "recipes" / f"{component.name}-{version}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(recipe(component, bucket=bucket, prefix=prefix), indent=2) + "\n")
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
