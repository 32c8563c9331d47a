"""A rollout to a group or device the fleet does not know is refused (exit 5, listing the known ones),
unless the caller says the devices will join later (``--allow-new-target``).

Real parts: the fleet database in a temporary home, the controller, the CLI in this process.
"""

from __future__ import annotations

import pytest

from qiloop.cli.main import main
from qiloop.core.errors import NotFoundError
from qiloop.fleet.controller import FleetController
from qiloop.fleet.registry_db import FleetDB
from qiloop.protocol.reports import DeviceHello
from qiloop.settings import Settings


def _hello(controller: FleetController, device_id: str, *groups: str) -> None:
    hello = DeviceHello(device_id=device_id, groups=list(groups))
    assert controller.receive(f"qiloop/devices/{device_id}/hello", hello.model_dump_json().encode()) == "hello"


@pytest.fixture
def home(tmp_path):
    """A home whose fleet registry knows cam-1 (line-1) and cam-2 (line-1, line-2)."""
    home = tmp_path / "home"
    controller = FleetController.from_settings(Settings(home=home), verify_devices=False)  # unsigned hellos
    _hello(controller, "cam-1", "line-1")
    _hello(controller, "cam-2", "line-1", "line-2")
    controller.db.close()
    return home


@pytest.mark.parametrize(
    ("target", "name"), [("line-1", "line-1"), ("group:line-2", "line-2"), ("device:cam-2", "cam-2")]
)
def test_known_targets_pass_the_check(home, target, name):
    controller = FleetController.from_settings(Settings(home=home))
    assert controller.check_target(target).name == name


@pytest.mark.parametrize(
    ("target", "what"), [("nosuchgroup", "no group 'nosuchgroup'"), ("device:cam-9", "no device 'cam-9'")]
)
def test_an_unknown_target_is_not_found_and_the_hint_lists_the_known_ones(home, target, what):
    controller = FleetController.from_settings(Settings(home=home))
    with pytest.raises(NotFoundError, match=what) as caught:
        controller.deploy([], target)
    assert "known groups: line-1, line-2; known devices: cam-1, cam-2" in caught.value.hint
    assert "--allow-new-target" in caught.value.hint
    assert controller.db.rollouts() == []  # nothing recorded


def test_an_empty_fleet_says_no_device_has_joined(tmp_path):
    controller = FleetController.from_settings(Settings(home=tmp_path / "home"))
    with pytest.raises(NotFoundError) as caught:
        controller.check_target("line-1")
    assert "no device has said hello" in caught.value.hint


def test_deploy_cli_exits_5_on_an_unknown_group_before_publishing_anything(home, capsys):
    assert main(["deploy", "--target", "nosuchgroup", "--inference-code", "--home", str(home)]) == 5
    err = capsys.readouterr().err
    assert "no group 'nosuchgroup' in the fleet registry" in err
    assert "line-1, line-2" in err and "cam-1, cam-2" in err
    assert not (home / "components").exists() or not any((home / "components").rglob("*.json"))
    assert FleetDB(home / "fleet.db").rollouts() == []


def test_deploy_cli_records_a_rollout_to_a_new_group_behind_the_flag(home, capsys):
    argv = ["deploy", "--target", "line-3", "--inference-code", "--allow-new-target", "--json", "--home", str(home)]
    assert main(argv) == 0, capsys.readouterr().err
    (rollout,) = FleetDB(home / "fleet.db").rollouts()
    assert str(rollout.target) == "group:line-3" and rollout.components[0].name == "qiloop-inference"
