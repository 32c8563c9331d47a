"""deploy/: the instance file, the code-location image, the Helm values and the CI workflow hold together.

What can run here runs (Dagster's own schema check of dagster.yaml; the module the
image and the chart load is importable); the rest is checked for the keys the
official chart and GitHub Actions read.
"""

from __future__ import annotations

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")

import importlib.util
import json
import re
import shutil
from pathlib import Path

import tomllib
import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
MODULE = "qiloop.orchestration.definitions"


def test_dagster_yaml_passes_dagsters_schema_check(tmp_path, monkeypatch):
    from dagster._core.instance.config import dagster_instance_config

    shutil.copy(DEPLOY / "dagster" / "dagster.yaml", tmp_path / "dagster.yaml")
    for name, value in {"HOST": "db", "PORT": "5432", "USER": "dagster", "PASSWORD": "x", "DB": "dagster"}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{name}", value)
    config = dagster_instance_config(str(tmp_path))
    config = config[0] if isinstance(config, tuple) else config
    assert config["storage"]["postgres"]["postgres_db"]["hostname"] == {"env": "DAGSTER_PG_HOST"}
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_retries"]["enabled"] is True


def test_the_image_installs_what_a_run_needs_and_loads_the_definitions():
    text = (DEPLOY / "dagster" / "Dockerfile").read_text()
    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    wanted = set(re.search(r'"\.\[([a-z0-9,]+)\]"', text).group(1).split(","))
    assert {"orchestrate", "train", "registry", "label"} <= wanted <= extras
    assert f"definitions validate -m {MODULE}" in text and f'"-m", "{MODULE}"' in text
    for source in re.findall(r"^COPY (\S+)", text, re.MULTILINE):
        assert (REPO / source).exists(), source
    assert importlib.util.find_spec(MODULE) is not None


def test_the_helm_values_launch_each_run_as_a_kubernetes_job_of_the_qiloop_image():
    values = yaml.safe_load((DEPLOY / "dagster" / "values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", MODULE]
    assert values["concurrency"]["pools"]["defaultLimit"] == 1
    assert values["dagsterDaemon"]["runRetries"]["enabled"] is True
    # Two places may not both limit runs: the chart refuses that.
    assert "maxConcurrentRuns" not in values["dagsterDaemon"]["runCoordinator"].get("config", {}).get(
        "queuedRunCoordinator", {}
    )


def test_a_gpu_training_run_asks_kubernetes_for_a_gpu_node():
    from qiloop.orchestration.jobs import training_request

    tags, run_config = training_request(True)
    pod = json.loads(tags["dagster-k8s/config"])
    assert pod["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu.present" in pod["pod_spec_config"]["node_selector"]
    assert run_config["ops"]["train"]["config"]["overrides"] == ["device=0"]
    assert training_request(False) == ({}, {})


def test_the_example_workflow_tests_validates_builds_and_reloads():
    path = DEPLOY / "github-actions" / "qiloop.yml"
    workflow = yaml.safe_load(path.read_text())
    assert not (REPO / ".github" / "workflows" / "qiloop.yml").exists()  # an example for users, not this repo's CI
    jobs = workflow["jobs"]
    assert list(jobs) == ["test", "image", "reload"]
    runs = "\n".join(step.get("run", "") for step in jobs["test"]["steps"])
    assert "pytest" in runs and 'dagster definitions validate -m "$DAGSTER_MODULE"' in runs
    assert workflow["env"]["DAGSTER_MODULE"] == MODULE
    build = next(s for s in jobs["image"]["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["file"] == "deploy/dagster/Dockerfile"
    reload = "\n".join(step.get("run", "") for step in jobs["reload"]["steps"])
    assert "reload_repository_location" in reload and "helm upgrade" in reload
