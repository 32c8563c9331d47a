"""The inference app's settings per rollout: ``qiloop deploy --set``, checked before anything is recorded,
kept by later rollouts to the same target, dropped by ``--default-settings``.

Real parts: the fleet database in a temporary home, the controller, the CLI in this process.
"""

from __future__ import annotations

import pytest

from qiloop.cli.main import main
from qiloop.fleet.controller import FleetController
from qiloop.fleet.registry_db import FleetDB
from qiloop.fleet.rollout import Phase
from qiloop.protocol.reports import DeviceHello
from qiloop.settings import Settings


@pytest.fixture
def home(tmp_path):
    """A home whose fleet registry knows cam-1 in line-1."""
    home = tmp_path / "home"
    controller = FleetController.from_settings(Settings(home=home), verify_devices=False)  # unsigned hellos
    hello = DeviceHello(device_id="cam-1", groups=["line-1"])
    assert controller.receive("qiloop/devices/cam-1/hello", hello.model_dump_json().encode()) == "hello"
    controller.db.close()
    return home


def _deploy(home, *extra: str) -> int:
    return main(["deploy", "--target", "line-1", "--inference-code", "--json", "--home", str(home), *extra])


def _succeed_latest(home) -> dict:
    """Mark the newest rollout as succeeded (what the controller does once every device reported); its configuration."""
    db = FleetDB(home / "fleet.db")
    latest = db.rollouts()[0]
    db.save_rollout(latest.model_copy(update={"phase": Phase.SUCCEEDED}))
    return latest.configuration


def test_settings_are_recorded_nested_and_typed(home, capsys):
    assert _deploy(home, "--set", "feedback.sample_rate=0.2", "--set", "threads=2") == 0, capsys.readouterr().err
    assert _succeed_latest(home) == {"qiloop-inference": {"settings": {"feedback": {"sample_rate": 0.2}, "threads": 2}}}


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("feedback.sample_rate=2", "less than or equal to 1"),
        ("thread=2", "did you mean 'threads'"),
        ("device_id=cam-9", "set by each device"),
        ("source.path=/tmp", "set by each device"),
        ("threads", "not key=value"),
    ],
)
def test_settings_the_app_would_refuse_exit_2_before_anything_is_recorded(home, capsys, setting, why):
    assert _deploy(home, "--set", setting) == 2
    assert why in capsys.readouterr().err
    assert FleetDB(home / "fleet.db").rollouts() == []


def test_a_later_rollout_keeps_the_settings_and_default_settings_drops_them(home, capsys):
    assert _deploy(home, "--set", "feedback.no_detection=true") == 0, capsys.readouterr().err
    _succeed_latest(home)
    assert _deploy(home) == 0  # the next rollout, e.g. a new model from the loop: the operator's settings stay
    assert _succeed_latest(home) == {"qiloop-inference": {"settings": {"feedback": {"no_detection": True}}}}
    assert _deploy(home, "--default-settings") == 0
    assert _succeed_latest(home) == {"qiloop-inference": {}}
    assert _deploy(home) == 0
    assert _succeed_latest(home) == {}  # cleared stays cleared


def test_set_and_default_settings_together_are_a_usage_error(home, capsys):
    assert _deploy(home, "--set", "threads=2", "--default-settings") == 2
    assert "contradict" in capsys.readouterr().err
