"""The device home's atomic switch and the nucleus's state across restarts."""

from __future__ import annotations

import json

import pytest

from qiloop.core.deployments import DeploymentState
from qiloop.core.errors import StoreError
from qiloop.edge.agent.home import DeviceHome
from qiloop.edge.agent.state import AgentState


def _install(home: DeviceHome, name: str, version: str, *, complete: bool = True) -> None:
    folder = home.version_dir(name, version)
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(version.encode())
    if complete:
        home.mark_complete(name, version)


def test_switch_is_one_step_and_links_follow(tmp_path):
    home = DeviceHome(tmp_path)
    _install(home, "model", "1")
    _install(home, "code", "1")
    assert home.switch({"model": "1", "code": "1"}) == {}
    _install(home, "model", "2")
    assert home.switch({"model": "2", "code": "1"}) == {"model": "1", "code": "1"}
    assert json.loads((tmp_path / "current.json").read_text()) == {"code": "1", "model": "2"}
    assert (home.components / "model" / "current" / "model.onnx").read_bytes() == b"2"
    assert (home.components / "code" / "current").resolve() == home.version_dir("code", "1").resolve()


def test_switching_to_a_half_installed_version_is_refused(tmp_path):
    home = DeviceHome(tmp_path)
    _install(home, "model", "1")
    home.switch({"model": "1"})
    _install(home, "model", "2", complete=False)
    with pytest.raises(StoreError, match="not completely installed"):
        home.switch({"model": "2"})
    assert home.current() == {"model": "1"}


def test_incomplete_versions_are_discarded_on_start_and_prune_keeps_the_running_set(tmp_path):
    home = DeviceHome(tmp_path)
    for v in ("1", "2", "3"):
        _install(home, "model", v)
    _install(home, "model", "4", complete=False)
    home.switch({"model": "2"})
    assert DeviceHome(tmp_path).discard_incomplete() == ["model/4"]
    assert home.prune(keep={("model", "1")}) == 1  # 3 goes; 1 kept, 2 running
    assert sorted(p.name for p in (home.components / "model").iterdir()) == ["1", "2", "current"]


def test_state_survives_reopening_and_ends_each_deployment_once(tmp_path):
    state = AgentState(tmp_path / "state.db")
    state.accept("a" * 32, "group:line-1", 4, "{}")
    state.update("a" * 32, DeploymentState.INSTALLING, previous={"model": "1"})
    state.close()
    again = AgentState(tmp_path / "state.db")
    assert again.last_sequence("group:line-1") == 4 and again.last_sequence("device:x") == 0
    (row,) = again.unfinished()
    assert (row.state, row.previous) == (DeploymentState.INSTALLING, {"model": "1"})
    assert again.finish("a" * 32, DeploymentState.FAILED_ROLLBACK_COMPLETE, "health check failed")
    assert not again.finish("a" * 32, DeploymentState.SUCCEEDED)
    assert again.get("a" * 32).state == DeploymentState.FAILED_ROLLBACK_COMPLETE
    assert again.unfinished() == []
    again.update("a" * 32, DeploymentState.INSTALLING)  # no effect once final
    assert again.get("a" * 32).state == DeploymentState.FAILED_ROLLBACK_COMPLETE
    with pytest.raises(ValueError, match="not a final state"):
        again.finish("a" * 32, DeploymentState.INSTALLING)


def test_sequences_only_go_up(tmp_path):
    state = AgentState(tmp_path / "state.db")
    state.accept("b" * 32, "device:cam-1", 7, "{}")
    state.accept("c" * 32, "device:cam-1", 3, "{}")
    assert state.last_sequence("device:cam-1") == 7
    assert [r.sequence for r in state.history()] == [3, 7]


def test_agent_paths_are_made_absolute(tmp_path, monkeypatch):
    from qiloop.edge.agent.config import AgentConfig

    monkeypatch.chdir(tmp_path)
    config = AgentConfig(home="devices/line-1", device_id="line-1", camera_dir="cam")
    assert config.home == tmp_path / "devices" / "line-1"  # components run elsewhere: no relative paths
    assert config.camera_folder == tmp_path / "cam"
    assert AgentConfig(home="h", device_id="d").camera_folder == tmp_path / "h" / "camera"
