"""``qiloop fleet alerts``: list, check once, resolve — with the exit codes the CLI promises."""

from __future__ import annotations

import json
import time

from qiloop.cli.main import main
from qiloop.fleet.alerts import Alert, AlertKind, AlertStore
from qiloop.fleet.registry_db import FleetDB
from qiloop.protocol.reports import DeviceHello
from qiloop.settings import Settings


def test_check_lists_and_resolves(tmp_path, capsys):
    settings = Settings(home=tmp_path / "home")
    registry = FleetDB.from_settings(settings)
    registry.add_hello(DeviceHello(device_id="cam-7", groups=["line-a"]), at=time.time() - 600)
    registry.close()
    store = AlertStore.from_settings(settings)
    store.open(Alert(AlertKind.CONFIDENCE_DRIFT, "cam-3", "confidence moved from 0.85 to 0.60"))
    store.close()
    home = str(settings.home)

    assert main(["fleet", "alerts", "check", "--home", home, "--offline-after", "60", "--json"]) == 0
    (opened,) = json.loads(capsys.readouterr().out)
    assert (opened["kind"], opened["subject"]) == ("device_offline", "cam-7")
    assert main(["fleet", "alerts", "check", "--home", home]) == 0
    assert "no new alert" in capsys.readouterr().out

    assert main(["fleet", "alerts", "--home", home, "--json"]) == 0
    assert [a["kind"] for a in json.loads(capsys.readouterr().out)] == ["device_offline", "confidence_drift"]
    assert main(["fleet", "alerts", "--home", home, "--kind", "confidence_drift", "--json"]) == 0
    (drift,) = json.loads(capsys.readouterr().out)
    assert (drift["subject"], drift["message"]) == ("cam-3", "confidence moved from 0.85 to 0.60")
    assert main(["fleet", "alerts", "--home", home]) == 0
    assert "device_offline" in capsys.readouterr().out  # the table

    drift_id = AlertStore.from_settings(settings).list(kind=AlertKind.CONFIDENCE_DRIFT)[0].id
    assert main(["fleet", "alerts", "resolve", str(drift_id), "--home", home, "--note", "relabelled"]) == 0
    assert "resolved: relabelled" in capsys.readouterr().out
    assert main(["fleet", "alerts", "--home", home, "--open", "--json"]) == 0
    assert [a["subject"] for a in json.loads(capsys.readouterr().out)] == ["cam-7"]


def test_bad_input_gets_the_exit_code_and_a_hint(tmp_path, capsys):
    home = tmp_path / "home"
    AlertStore.from_settings(Settings(home=home)).close()
    assert main(["fleet", "alerts", "--home", str(home), "--kind", "bogus"]) == 2
    assert "device_offline" in capsys.readouterr().err
    assert main(["fleet", "alerts", "resolve", "999", "--home", str(home)]) == 5
    assert "no alert 999" in capsys.readouterr().err
