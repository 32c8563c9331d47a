"""deploy/docker: the images install what their part needs from the repository and run existing commands."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from deploy_files import DEPLOY, REPO, distributions, extras, program_problems

DOCKER = DEPLOY / "docker"


def instructions(path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


@pytest.mark.parametrize("name", ["cloud", "device"])
def test_an_image_copies_only_files_that_exist_and_the_ignore_file_keeps_them(name):
    steps = instructions(DOCKER / f"{name}.Dockerfile")
    copied = [s.split()[:-1] for kind, s in steps if kind == "COPY" and not s.startswith("--from")]
    assert copied, "the image copies the source"
    for sources in copied:
        for source in sources:
            assert (REPO / source).exists(), source
    text = (DOCKER / f"{name}.Dockerfile.dockerignore").read_text()
    ignore = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "*" and {"!pyproject.toml", "!README.md", "!LICENSE", "!src/"} <= set(ignore)
    assert [kind for kind, _ in steps].count("FROM") == 2, "a build stage and a slim runtime stage"
    assert ("USER", "qiloop") in steps, "the image does not run as root"


def test_the_device_image_installs_only_the_edge_extra_and_runs_the_agent():
    steps = instructions(DOCKER / "device.Dockerfile")
    installs = [s for kind, s in steps if kind == "RUN" and "pip install" in s]
    assert installs == ['/opt/qiloop/venv/bin/pip install --no-compile ".[edge]"']  # no bytecode it never imports
    (cmd,) = [json.loads(s) for kind, s in steps if kind == "CMD"]
    assert cmd[:2] == ["sh", "-c"]
    argv = shlex.split(cmd[2].removeprefix("exec "))
    assert program_problems(argv, distributions("edge")) == []
    assert argv[:3] == ["qiloop", "agent", "run"]


def test_the_cloud_image_installs_existing_extras_and_runs_the_fleet_controller_by_default():
    steps = instructions(DOCKER / "cloud.Dockerfile")
    default = next(s for kind, s in steps if kind == "ARG" and s.startswith("EXTRAS="))
    assert set(default.removeprefix("EXTRAS=").split(",")) <= set(extras())
    entry = json.loads(next(s for kind, s in steps if kind == "ENTRYPOINT"))
    cmd = json.loads(next(s for kind, s in steps if kind == "CMD"))
    assert program_problems([*entry, *cmd], distributions("all")) == []
