"""The Greengrass v2 export, checked against the recipe and deployment structure Greengrass documents."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex

import pytest

from qiloop.core.deployments import ComponentRef, Deployment, RolloutPolicy, Target
from qiloop.core.errors import ConfigurationError
from qiloop.fleet.component_store import ComponentStore
from qiloop.fleet.greengrass import (
    deployment_document,
    device_requirements,
    export,
    recipe,
    semver,
    version_requirement,
)
from qiloop.fleet.packaging import inference_component

SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


@pytest.mark.parametrize(
    ("version", "expected"), [("3", "3.0.0"), ("1.4", "1.4.0"), ("2.0.1", "2.0.1"), ("10", "10.0.0")]
)
def test_semver(version, expected):
    assert semver(version) == expected


def test_semver_refuses_four_parts():
    with pytest.raises(ConfigurationError):
        semver("1.2.3.4")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [(">=1", ">=1.0.0"), (">=1,<2", ">=1.0.0 <2.0.0"), ("^1.2", "^1.2.0"), ("==3", "=3.0.0"), ("*", "*")],
)
def test_version_requirement(spec, expected):
    assert version_requirement(spec) == expected


@pytest.fixture
def components(tmp_path):
    store = ComponentStore.from_url(tmp_path / "store")
    model = store.publish("scratch-detector", "3", "model", {"model.onnx": b"weights", "manifest.json": b"{}"})
    code = inference_component(store, model_name="scratch-detector")
    return store, model, code


def test_recipes_follow_the_format(components):
    _, model, code = components
    for component in (model, code):
        document = recipe(component, bucket="my-bucket")
        assert document["RecipeFormatVersion"] == "2020-01-25"
        assert document["ComponentName"] == component.name
        assert SEMVER.match(document["ComponentVersion"])
        assert document["ComponentType"] == "aws.greengrass.generic"
        (manifest,) = document["Manifests"]
        assert manifest["Platform"] == {"os": "linux"}
        for artifact, entry in zip(manifest["Artifacts"], component.files, strict=True):
            assert artifact["Uri"] == f"s3://my-bucket/qiloop/{component.name}/{semver(component.version)}/{entry.name}"
            assert base64.b64decode(artifact["Digest"]).hex() == entry.sha256
            assert artifact["Algorithm"] == "SHA-256"
            assert artifact["Unarchive"] == ("ZIP" if entry.name.endswith(".zip") else "NONE")
    assert "Lifecycle" not in recipe(model)["Manifests"][0]  # a model only ships files
    code_recipe = recipe(code)
    assert code_recipe["ComponentDependencies"] == {
        "scratch-detector": {"VersionRequirement": ">=1.0.0", "DependencyType": "HARD"}
    }
    run = code_recipe["Manifests"][0]["Lifecycle"]["Run"]
    script = run["Script"].replace("'", "")  # arguments are shell-quoted; Greengrass fills variables in first
    assert "--package {scratch-detector:artifacts:path}" in script
    assert "--device-id {iot:thingName}" in script and "--broker {configuration:/broker_url}" in script
    assert run["Setenv"] == {"PYTHONPATH": "{artifacts:decompressedPath}/inference"}
    assert set(code_recipe["ComponentConfiguration"]["DefaultConfiguration"]) == {
        "python",
        "broker_url",
        "camera_dir",
        "data_dir",
        "settings",
    }
    assert script.endswith(" {configuration:/settings}")  # unquoted: its key=value words split in the shell
    assert not re.search(r"\{(component|model_path|device_id)\}", json.dumps(code_recipe))  # every placeholder mapped


def test_deployment_and_files_are_written(components, tmp_path):
    store, model, code = components
    refs = [ComponentRef(name=c.name, version=c.version, digest=c.digest) for c in (model, code)]
    policy = RolloutPolicy(canary=2, max_failure_fraction=0.25, health_timeout_s=90)
    configuration = {"scratch-detector": {"threshold": 0.4}}
    target = Target(kind="group", name="line-1")
    deployment = Deployment(sequence=4, target=target, components=refs, configuration=configuration, rollout=policy)
    document = deployment_document(deployment)
    assert document["targetArn"].endswith(":thinggroup/line-1")
    assert document["components"]["scratch-detector"] == {
        "componentVersion": "3.0.0", "configurationUpdate": {"merge": json.dumps({"threshold": 0.4})}
    }  # fmt: skip
    assert document["components"]["qiloop-inference"]["componentVersion"] == semver(code.version)
    assert document["deploymentPolicies"]["failureHandlingPolicy"] == "ROLLBACK"
    assert document["deploymentPolicies"]["componentUpdatePolicy"]["timeoutInSeconds"] == 90
    (criteria,) = document["iotJobConfiguration"]["abortConfig"]["criteriaList"]
    assert criteria["thresholdPercentage"] == 25 and criteria["minNumberOfExecutedThings"] == 2

    written = export([model, code], store.read_file, tmp_path / "out", deployment=deployment)
    assert (tmp_path / "out" / "deployment.json") in written
    recipe_file = tmp_path / "out" / "recipes" / "scratch-detector-3.0.0.json"
    stored = json.loads(recipe_file.read_text())
    for artifact in stored["Manifests"][0]["Artifacts"]:
        local = tmp_path / "out" / "artifacts" / "scratch-detector" / "3.0.0" / artifact["Uri"].rsplit("/", 1)[1]
        assert base64.b64encode(hashlib.sha256(local.read_bytes()).digest()).decode() == artifact["Digest"]


def test_the_device_packages_are_the_edge_install_without_the_cloud_side():
    names = {re.match(r"[\w.-]+", r).group().lower() for r in device_requirements()}
    assert {"numpy", "pydantic", "onnxruntime", "pillow", "paho-mqtt", "cryptography"} <= names
    assert not names & {"torch", "ultralytics", "mlflow", "dagster", "fastapi", "sqlalchemy", "deltalake", "qiloop"}


def test_an_inference_recipe_installs_the_device_packages_and_runs_with_them(components, tmp_path):
    store, model, code = components
    requirements = ["onnxruntime>=1.18", "paho-mqtt>=2.0"]
    lifecycle = recipe(code, requirements=requirements)["Manifests"][0]["Lifecycle"]
    make, install = lifecycle["Install"]["Script"].split(" && ")
    assert make == "{configuration:/python} -m venv {work:path}/venv"
    assert shlex.split(install)[:2] == ["{work:path}/venv/bin/pip", "install"]
    assert "--no-compile" in shlex.split(install)  # no bytecode for what the device never imports
    assert shlex.split(install)[-2:] == requirements
    assert lifecycle["Install"]["Timeout"] >= 600
    run = shlex.split(lifecycle["Run"]["Script"])
    assert run[:3] == ["{work:path}/venv/bin/python", "-m", "qiloop.edge.inference"]
    assert "Lifecycle" not in recipe(model, requirements=requirements)["Manifests"][0]
    export([model, code], store.read_file, tmp_path / "out")  # by default, the installed qiloop's edge packages
    written = json.loads((tmp_path / "out" / "recipes" / f"{code.name}-{semver(code.version)}.json").read_text())
    script = written["Manifests"][0]["Lifecycle"]["Install"]["Script"]
    assert shlex.split(script.split(" && ")[1])[-len(device_requirements()) :] == device_requirements()
    assert written["ComponentConfiguration"]["DefaultConfiguration"]["python"] == "python3"


def test_a_deployments_settings_reach_the_run_script_as_shell_words(components):
    _store, model, code = components
    refs = [ComponentRef(name=c.name, version=c.version, digest=c.digest) for c in (model, code)]
    settings = {"feedback": {"sample_rate": 0.2}, "source.poll_s": 1, "results_topic": "a b"}
    deployment = Deployment(sequence=1, target=Target(kind="device", name="cam-1"), components=refs,
                            configuration={"qiloop-inference": {"settings": settings}})  # fmt: skip
    update = deployment_document(deployment)["components"]["qiloop-inference"]["configurationUpdate"]
    merge = json.loads(update["merge"])
    script = recipe(code)["Manifests"][0]["Lifecycle"]["Run"]["Script"]
    filled = script.replace("{configuration:/settings}", merge["settings"])
    assert shlex.split(filled)[-3:] == ["feedback.sample_rate=0.2", "results_topic=a b", "source.poll_s=1"]
