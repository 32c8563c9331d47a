"""deploy/compose: the compose file is valid YAML of the right shape, and everything it names exists."""

from __future__ import annotations

import re

import pytest
import yaml
from deploy_files import DEPLOY, REPO, distributions, program_problems, qiloop_problems

from qiloop.labeling.api.config import WebOptions
from qiloop.settings import Settings

COMPOSE = DEPLOY / "compose"
QILOOP_PARTS = {"console", "fleet", "collector", "mlflow", "dagster-webserver", "dagster-daemon"}


@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load((COMPOSE / "compose.yaml").read_text())


def test_the_stack_has_its_backing_services_and_every_part(doc):
    services = doc["services"]
    assert {"postgres", "mosquitto", "minio", "minio-buckets"} | QILOOP_PARTS == set(services)
    assert services["mosquitto"]["ports"] == ["8883:8883"], "devices reach the broker over TLS only"
    for name in QILOOP_PARTS:
        service = services[name]
        assert service["image"] == "qiloop-cloud:latest" and service["restart"] == "unless-stopped"
        assert (REPO / service["build"]["dockerfile"]).is_file()
        assert (COMPOSE / service["build"]["context"]).resolve() == REPO
        assert "postgres" in service["depends_on"]


@pytest.mark.parametrize("name", sorted(QILOOP_PARTS))
def test_each_part_runs_an_existing_command(doc, name):
    service = doc["services"][name]
    argv = [*service.get("entrypoint", ["qiloop"]), *service["command"]]
    argv = [re.sub(r"\$\{\w+\}", "X", word) for word in argv]
    assert program_problems(argv, distributions("all")) == []


def test_every_variable_the_file_interpolates_is_in_the_env_example_and_every_setting_is_real(doc):
    text = (COMPOSE / "compose.yaml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{(\w+)\}", text))
    defined = set(re.findall(r"^(\w+)=", (COMPOSE / ".env.example").read_text(), re.M))
    assert used <= defined, f".env.example lacks {used - defined}"
    environment = doc["services"]["fleet"]["environment"]
    fields = {name.upper() for cls in (Settings, WebOptions) for name in cls.model_fields}
    qiloop = {k.removeprefix("QILOOP_") for k in [*environment, *defined] if k.startswith("QILOOP_")}
    assert qiloop <= fields, f"not settings: {qiloop - fields}"


def test_the_files_it_mounts_are_in_the_repository(doc):
    for service in doc["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and source not in ("./tls", "./mosquitto/acl"):  # made by the operator
                assert (COMPOSE / source).exists(), source


def test_mosquitto_requires_client_certificates_and_the_acl():
    conf = dict(
        line.split(None, 1)
        for line in (COMPOSE / "mosquitto" / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert conf["allow_anonymous"] == "false" and conf["require_certificate"] == "true"
    assert conf["use_identity_as_username"] == "true" and conf["acl_file"] == "/mosquitto/config/acl"
    assert conf["listener"] == "8883"


def test_the_commands_the_header_tells_the_operator_to_run_exist():
    header = [line[1:].strip() for line in (COMPOSE / "compose.yaml").read_text().splitlines() if line.startswith("#")]
    text = "\n".join(header).replace("\\\n", " ")
    commands = [line for line in text.splitlines() if line.startswith(("qiloop ", "docker compose"))]
    assert len(commands) >= 4
    for line in commands:
        words = line.split()
        if words[0] == "docker":
            words = words[words.index("qiloop") :] if "qiloop" in words else []
        if words:
            assert qiloop_problems(words[1:]) == [], line
