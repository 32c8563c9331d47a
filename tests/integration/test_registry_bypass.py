"""A production alias moved in MLflow's UI reaches neither the endpoint nor the fleet.

Real parts: an MLflow registry (SQLite) in a home, real YOLOv8n packages, the `qiloop`
command in its own process.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow
NAME = "scratch-detector"


def qiloop(*args: str, home, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qiloop.cli.main", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.fixture
def bypassed(tmp_path, yolo_package, yolo_package_v2):
    """A home where version 1 is approved on record and the alias was moved to the unapproved version 2."""
    pytest.importorskip("mlflow", reason="the registry needs the registry extra")
    from qiloop.registry import ModelRegistry
    from qiloop.settings import Settings

    home = tmp_path / "home"
    registry = ModelRegistry.from_settings(Settings(home=home))
    for package, approval in ((yolo_package, "Approved"), (yolo_package_v2, "PendingManualApproval")):
        with registry.start_candidate_run(NAME) as run:
            registry.register(run, package, name=NAME, approval=approval)
    registry.client.set_registered_model_alias(NAME, "production", "2")  # what MLflow's UI lets anyone do
    registry.client.set_model_version_tag(NAME, "2", "approval_status", "Approved")
    return home


def test_deploy_refuses_the_moved_alias_and_names_the_approved_version(bypassed):
    from qiloop.fleet.registry_db import FleetDB

    done = qiloop("deploy", "--target", "line9", "--allow-new-target", "--json", home=bypassed)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"points to {NAME}/2" in done.stderr and f"{NAME}/1" in done.stderr
    assert FleetDB(bypassed / "fleet.db").rollouts() == []  # nothing was recorded or published

    # Approving through qiloop puts the alias back where the record says; deploying works again.
    assert qiloop("models", "approve", f"{NAME}/1", home=bypassed).returncode == 0
    again = qiloop("deploy", "--target", "line9", "--allow-new-target", "--json", home=bypassed)
    assert again.returncode == 0, again.stdout + again.stderr
    assert [c["version"] for c in json.loads(again.stdout)["components"] if c["name"] == NAME] == ["1"]


def test_serve_refuses_the_moved_alias_at_start(bypassed):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = qiloop("serve", "--model", f"{NAME}@production", "--port", str(port), home=bypassed, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "moved outside qiloop" in done.stderr and f"{NAME}/1" in done.stderr
