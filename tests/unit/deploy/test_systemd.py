"""deploy/systemd: the units parse, systemd accepts them, and every command they run exists."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess

import pytest
from deploy_files import DEPLOY, VENV_BIN, distributions, program_problems, qiloop_problems

from qiloop.labeling.api.config import WebOptions
from qiloop.settings import Settings

SYSTEMD = DEPLOY / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
CLOUD = [u for u in UNITS if u.name != "qiloop-agent.service"]


def unit(path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read(path)
    return parser


def test_the_device_agent_and_every_part_of_the_cloud_stack_have_a_unit():
    names = {u.stem for u in UNITS}
    assert names == {"qiloop-agent", "qiloop-console", "qiloop-fleet", "qiloop-collector", "qiloop-mlflow",
                     "qiloop-dagster-webserver", "qiloop-dagster-daemon"}  # fmt: skip
    wanted = unit(SYSTEMD / "qiloop.target")["Unit"]["Wants"].split()
    assert sorted(wanted) == sorted(u.name for u in CLOUD)
    for path in CLOUD:
        assert unit(path)["Install"]["WantedBy"] == "qiloop.target" and unit(path)["Unit"]["PartOf"] == "qiloop.target"


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_an_existing_command_from_the_right_install(path):
    service = unit(path)["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].startswith(VENV_BIN), "units run the programs of the venv the README installs"
    extra = "edge" if path.name == "qiloop-agent.service" else "all"
    assert program_problems(argv, distributions(extra)) == []
    assert service["Restart"] in ("always", "on-failure") and service["User"] == "qiloop"


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_every_variable_a_unit_uses_is_set_in_its_environment_file(path):
    service = unit(path)["Service"]
    example = SYSTEMD / (service["EnvironmentFile"].rsplit("/", 1)[1] + ".example")
    defined = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example.read_text(), re.M))
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", service["ExecStart"]))
    assert used <= defined, f"{example.name} does not set {used - defined}"


def test_the_qiloop_settings_in_the_cloud_environment_file_are_real_settings():
    text = (SYSTEMD / "qiloop.env.example").read_text()
    named = set(re.findall(r"^QILOOP_([A-Z0-9_]+)=", text, re.M))
    fields = {name.upper() for cls in (Settings, WebOptions) for name in cls.model_fields}
    assert named and named <= fields, f"not settings: {named - fields}"


def test_systemd_accepts_every_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (a system without systemd)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("qiloop", "mlflow", "dagster-webserver", "dagster-daemon"):
        (bin_dir / program).write_text("#!/bin/sh\n")
        (bin_dir / program).chmod(0o755)
    for example in SYSTEMD.glob("*.env.example"):
        shutil.copy(example, tmp_path / example.name.removesuffix(".example"))
    paths = []
    for source in [*UNITS, SYSTEMD / "qiloop.target"]:
        text = source.read_text().replace(VENV_BIN, f"{bin_dir}/").replace("/etc/qiloop/", f"{tmp_path}/")
        (tmp_path / source.name).write_text(text)
        paths.append(str(tmp_path / source.name))
    done = subprocess.run([analyze, "verify", "--man=no", *paths], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_the_qiloop_commands_the_environment_files_name_exist():
    texts = [example.read_text() for example in SYSTEMD.glob("*.example")]
    named = [span for text in texts for span in re.findall(r"`(qiloop [^`]+)`", text)]
    assert named, "the examples say where their values come from"
    for span in named:
        assert qiloop_problems(shlex.split(span)[1:]) == [], span
