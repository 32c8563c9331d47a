"""The parts of the stack from settings and options."""

from __future__ import annotations

import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.settings import Settings
from qiloop.stack.health import DagsterDaemonProbe, HeartbeatProbe, LogProbe, TcpProbe
from qiloop.stack.plan import DEFAULT_PORTS, StackOptions, expand_without, plan_stack, prepare_dagster_home


def names(plan):
    return [p.name for p in plan.parts]


def test_every_part_with_an_embedded_broker_first(tmp_path):
    plan = plan_stack(Settings(home=tmp_path), StackOptions())
    assert names(plan) == ["broker", "mlflow", "labeling", "fleet", "collector", "dagster-webserver", "dagster-daemon"]
    stages = {p.name: p.stage for p in plan.parts}
    assert stages["broker"] == 0 and stages["dagster-daemon"] == 2 and stages["labeling"] == 1
    assert plan.env["QILOOP_MQTT_URL"] == "mqtt://127.0.0.1:1883"
    assert plan.env["QILOOP_HOME"] == str(tmp_path)
    dagster_homes = {p.env.get("DAGSTER_HOME") for p in plan.parts if p.name.startswith("dagster")}
    assert dagster_homes == {str(tmp_path / "dagster")}
    assert plan.ports == {n: (port, plan.ports[n][1]) for n, port in DEFAULT_PORTS.items()}
    by_name = {p.name: p for p in plan.parts}
    assert isinstance(by_name["broker"].probe, TcpProbe)
    assert isinstance(by_name["fleet"].probe, HeartbeatProbe) and by_name["fleet"].probe.pid == 0
    assert isinstance(by_name["dagster-daemon"].probe, DagsterDaemonProbe)
    assert "--no-collect" in by_name["fleet"].argv  # the collector is its own part
    assert by_name["labeling"].url == "http://127.0.0.1:8080"
    assert all("127.0.0.1" in p.argv for p in plan.parts if p.name not in ("collector", "dagster-daemon"))


def test_a_configured_broker_is_used_not_started(tmp_path):
    plan = plan_stack(Settings(home=tmp_path, mqtt_url="mqtt://broker.example:1883"), StackOptions())
    assert "broker" not in names(plan)
    assert plan.external == {"broker": "mqtt://broker.example:1883"}
    assert "broker" not in plan.ports
    fleet = next(p for p in plan.parts if p.name == "fleet")
    assert fleet.argv[fleet.argv.index("--broker") + 1] == "mqtt://broker.example:1883"


def test_a_tracking_server_is_shown_not_started(tmp_path):
    plan = plan_stack(Settings(home=tmp_path, mlflow_tracking_uri="http://mlflow.example:5000"), StackOptions())
    assert "mlflow" not in names(plan) and plan.external["mlflow"] == "http://mlflow.example:5000"


def test_parts_left_out_and_free_ports(tmp_path):
    ports = {n: 0 for n in DEFAULT_PORTS}
    options = StackOptions(host="0.0.0.0", ports=ports, without=expand_without(["dagster-webserver", "mlflow"]))
    plan = plan_stack(Settings(home=tmp_path), options)
    assert names(plan) == ["broker", "labeling", "fleet", "collector", "dagster-daemon"]
    assert all(port > 0 for port, _ in plan.ports.values())
    daemon = plan.parts[-1]
    assert isinstance(daemon.probe, LogProbe)  # no webserver to ask about its heartbeat
    labeling = plan.parts[1]
    assert labeling.url.startswith("http://127.0.0.1:")  # a wildcard is dialled on loopback here
    assert "0.0.0.0" in labeling.argv


def test_without_names():
    assert expand_without(["dagster"]) == {"dagster-webserver", "dagster-daemon"}
    with pytest.raises(ConfigurationError, match="no such part"):
        expand_without(["grafana"])


def test_the_fleet_needs_a_broker(tmp_path):
    with pytest.raises(ConfigurationError, match="need an MQTT broker"):
        plan_stack(Settings(home=tmp_path), StackOptions(without=frozenset({"broker"})))
    plan = plan_stack(Settings(home=tmp_path), StackOptions(without=frozenset({"broker", "fleet", "collector"})))
    assert "QILOOP_MQTT_URL" not in plan.env


def test_the_dagster_home_gets_a_config_once(tmp_path):
    folder = prepare_dagster_home(tmp_path)
    config = folder / "dagster.yaml"
    pytest.importorskip("dagster", reason="Dagster's own schema check needs the orchestrate extra")
    from dagster._core.instance.config import dagster_instance_config

    checked = dagster_instance_config(str(folder))
    checked = checked[0] if isinstance(checked, tuple) else checked
    assert checked["concurrency"]["pools"]["default_limit"] == 1  # one training step at a time
    assert checked["telemetry"]["enabled"] is False
    config.write_text("# mine\n")
    prepare_dagster_home(tmp_path)
    assert config.read_text() == "# mine\n"
