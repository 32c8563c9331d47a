"""``qiloop`` on a device install (no Typer, Rich or pydantic-settings): the agent and edge commands still run.

The device parser must take exactly the options of the full CLI's commands, so every unit file,
Dockerfile and README line checked against the Typer app also runs on a device. The commands
run here in a fresh interpreter where the CLI's frameworks cannot be imported.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
import typer

from device_cli_helpers import device_qiloop
from qiloop.cli.main import app
from qiloop.edge.commands.parser import DEVICE_COMMANDS, build_parser


def _device_options(group: str, command: str) -> set[str]:
    root = build_parser()
    groups = next(a for a in root._actions if a.dest == "group").choices
    commands = next(a for a in groups[group]._actions if a.dest == "command").choices
    return {o for a in commands[command]._actions for o in a.option_strings} - {"-h", "--help"}


def _typer_options(group: str, command: str) -> set[str]:
    click_command = typer.main.get_command(app).commands[group].commands[command]
    return {o for p in click_command.params for o in (*p.opts, *getattr(p, "secondary_opts", ())) if o.startswith("-")}


@pytest.mark.parametrize(("group", "command"), [(g, c) for g, cs in DEVICE_COMMANDS.items() for c in cs])
def test_each_device_command_takes_the_options_of_the_full_cli(group, command):
    assert _device_options(group, command) == _typer_options(group, command)


def test_the_device_commands_are_the_full_cli_commands_of_the_device():
    cli = typer.main.get_command(app)
    assert {g: tuple(sorted(cli.commands[g].commands)) for g in DEVICE_COMMANDS} == {
        g: tuple(sorted(cs)) for g, cs in DEVICE_COMMANDS.items()
    }


def test_without_the_cli_frameworks_the_version_and_the_help_print():
    done = device_qiloop("--version")
    assert (done.returncode, done.stdout.strip()) == (0, "qiloop 0.1.0")
    done = device_qiloop("agent", "run", "--help")
    assert done.returncode == 0 and "--trust-key" in done.stdout


def test_without_the_cli_frameworks_a_cloud_command_says_which_extra_brings_it():
    done = device_qiloop("--home", "/tmp/h", "train", "--epochs", "1")
    assert done.returncode == 3
    assert "`qiloop train` is not a command of the device install" in done.stderr
    assert "pip install 'qiloop[cli]'" in done.stderr


def test_without_the_cli_frameworks_a_usage_error_exits_2():
    done = device_qiloop("agent", "run", "--home", "/tmp/h")
    assert done.returncode == 2 and "--device-id" in done.stderr


def test_without_the_cli_frameworks_agent_status_reads_a_device_home(tmp_path):
    from qiloop.edge.agent.state import AgentState

    AgentState(tmp_path / "state.db").close()
    done = device_qiloop("agent", "status", "--home", tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"running": {}, "deployments": []}
    missing = device_qiloop("agent", "status", "--home", tmp_path / "nowhere")
    assert missing.returncode == 5 and "no state.db" in missing.stderr


@pytest.mark.parametrize(
    "line",
    [
        "--package pkg --device-id cam-1 --broker mqtt://h:1883 a.jpg threads=2 --int8",
        "--package pkg --device-id cam-1 --watch camera --fp32 --max-images 3 --duration 9.5 --home dev-home "
        "feedback.sample_rate=0.05",
        "--package pkg --device-id cam-1 --files a.jpg --files b.jpg",
    ],
)
def test_edge_run_resolves_the_same_config_as_the_full_cli(tmp_path, line):
    argv = shlex.split(line)
    env = {"PATH": "/usr/bin:/bin", "QILOOP_HOME": str(tmp_path / "home"), "QILOOP_MQTT_URL": "mqtt://env:1883"}
    full = subprocess.run([sys.executable, "-m", "qiloop.cli.main", "edge", "run", "--print-config", *argv],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)  # fmt: skip
    device = device_qiloop("edge", "run", "--print-config", *argv, env=env, cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    assert device.returncode == 0, device.stderr
    assert json.loads(device.stdout) == json.loads(full.stdout)


def test_edge_run_without_a_broker_says_how_to_name_one(tmp_path):
    done = device_qiloop("edge", "run", "--package", "pkg", "--device-id", "cam-1", "a.jpg",
                         env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "QILOOP_MQTT_URL" in done.stderr
