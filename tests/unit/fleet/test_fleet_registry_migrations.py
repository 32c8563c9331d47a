"""The fleet registry's schema migrations: a fleet.db of the SQLite-only qiloop is taken up with its rows.

``OLD_SCHEMA`` is the script the fleet registry ran on every open before it moved to
SQLAlchemy and Alembic (copied verbatim), so these tests open exactly the files it made.
"""

from __future__ import annotations

import sqlite3

import pytest

from qiloop.core.deployments import DeploymentState
from qiloop.core.errors import StoreError
from qiloop.fleet.registry import migrate
from qiloop.fleet.registry_db import FleetDB
from qiloop.protocol.reports import DeploymentReport, DeviceHello

OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, groups TEXT NOT NULL DEFAULT '[]', public_key TEXT NOT NULL DEFAULT '',
    agent_version TEXT NOT NULL DEFAULT '', running TEXT NOT NULL DEFAULT '{}', hello_at REAL,
    report_state TEXT, report_deployment TEXT, report_detail TEXT, report_at REAL,
    status_state TEXT, status_at REAL, seen_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deployment_reports (
    device_id TEXT NOT NULL, sequence INTEGER NOT NULL, deployment_id TEXT NOT NULL, target TEXT NOT NULL,
    deployment_sequence INTEGER NOT NULL, state TEXT NOT NULL, detail TEXT NOT NULL, time TEXT NOT NULL,
    received_at REAL NOT NULL, bytes_downloaded INTEGER NOT NULL, running TEXT NOT NULL,
    PRIMARY KEY (device_id, sequence));
CREATE INDEX IF NOT EXISTS reports_deployment ON deployment_reports (deployment_id);
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY, target TEXT NOT NULL, sequence INTEGER NOT NULL, rollout_id TEXT NOT NULL,
    role TEXT NOT NULL, created_at REAL NOT NULL, signed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (target TEXT PRIMARY KEY, sequence INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rollouts (
    id TEXT PRIMARY KEY, target TEXT NOT NULL, phase TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS controllers (
    name TEXT PRIMARY KEY, broker_url TEXT NOT NULL, files_url TEXT NOT NULL, pid INTEGER NOT NULL,
    heartbeat_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS device_keys (
    device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, key_id TEXT NOT NULL, source TEXT NOT NULL,
    added_at REAL NOT NULL, hello_sequence INTEGER, status_sequence INTEGER);
CREATE TABLE IF NOT EXISTS enroll_tokens (
    digest TEXT PRIMARY KEY, device_id TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    used_at REAL, key_id TEXT);
CREATE TABLE IF NOT EXISTS pending_devices (
    device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, key_id TEXT NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, seen_at REAL NOT NULL);
"""


def _old_file(path, script: str = OLD_SCHEMA) -> None:
    with sqlite3.connect(path) as old:
        old.executescript(script)
        old.execute(
            "INSERT INTO devices (device_id, groups, running, hello_at, seen_at) VALUES ('cam-1', '[\"line\"]',"
            ' \'{"model": "3"}\', 5.0, 6.0)'
        )
        old.execute("INSERT INTO sequences VALUES ('group:line', 41)")
        old.execute(
            "INSERT INTO deployment_reports VALUES ('cam-1', 7, 'dep-1', 'group:line', 41, 'SUCCEEDED', '',"
            " '2024-05-01T00:00:00+00:00', 6.0, 10, '{}')"
        )
    old.close()


def test_a_fleet_db_of_the_old_code_keeps_its_rows_and_takes_new_ones(tmp_path):
    path = tmp_path / "fleet.db"
    _old_file(path)
    db = FleetDB(path)
    try:
        (device,) = db.devices("line")
        assert device.device_id == "cam-1" and device.running == {"model": "3"} and device.seen_at == 6.0
        assert db.finals(["dep-1"]) == {("cam-1", "dep-1"): (DeploymentState.SUCCEEDED, "")}
        assert db.next_sequence("group:line") == 42  # counts on from the old file's last number
        assert not db.add_report(
            DeploymentReport(device_id="cam-1", deployment_id="dep-1", target="group:line", deployment_sequence=41,
                             state=DeploymentState.SUCCEEDED, sequence=7)
        )  # fmt: skip
        db.add_hello(DeviceHello(device_id="cam-2", groups=["line"]), at=7.0)
        assert [d.device_id for d in db.devices("line")] == ["cam-1", "cam-2"]
    finally:
        db.close()
    with sqlite3.connect(path) as raw:  # stamped at the newest revision, in the fleet's own version table
        assert raw.execute(f"SELECT version_num FROM {migrate.VERSION_TABLE}").fetchall() == [(migrate.HEAD,)]
    raw.close()


def test_an_older_file_gets_the_tables_and_columns_it_lacks(tmp_path):
    path = tmp_path / "fleet.db"
    with sqlite3.connect(path) as old:  # before enrollment and numbered hellos
        old.execute("CREATE TABLE devices (device_id TEXT PRIMARY KEY, groups TEXT NOT NULL DEFAULT '[]',"
                    " public_key TEXT NOT NULL DEFAULT '', agent_version TEXT NOT NULL DEFAULT '',"
                    " running TEXT NOT NULL DEFAULT '{}', hello_at REAL, report_state TEXT, report_deployment TEXT,"
                    " report_detail TEXT, report_at REAL, status_state TEXT, status_at REAL,"
                    " seen_at REAL NOT NULL)")  # fmt: skip
        old.execute("INSERT INTO devices (device_id, seen_at) VALUES ('cam-1', 1.0)")
        old.execute(
            "CREATE TABLE device_keys (device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, key_id TEXT NOT NULL,"
            " source TEXT NOT NULL, added_at REAL NOT NULL, hello_time REAL, status_sequence INTEGER)"
        )
    old.close()
    db = FleetDB(path)
    try:
        assert [d.device_id for d in db.devices()] == ["cam-1"]
        assert db.pending_devices() == [] and db.rollouts() == []
        assert db.accept_hello("cam-1", 3) == "new"  # no key registered: nothing to remember yet
    finally:
        db.close()
    with sqlite3.connect(path) as raw:
        columns = {row[1] for row in raw.execute("PRAGMA table_info(device_keys)")}
    raw.close()
    assert {"hello_sequence", "hello_time"} <= columns


def test_a_database_migrated_by_a_newer_qiloop_is_refused(tmp_path):
    path = tmp_path / "fleet.db"
    FleetDB(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'")
    raw.close()
    with pytest.raises(StoreError, match=r"9999.*newer qiloop"):
        FleetDB(path)


def test_head_is_the_newest_script():
    assert migrate.revisions()[-1] == migrate.HEAD


def test_a_url_of_another_backend_is_refused_with_what_to_use(tmp_path):
    from qiloop.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="SQLite or PostgreSQL"):
        FleetDB("mysql://u@localhost/fleet")
    with pytest.raises(ConfigurationError, match="not a database URL"):
        FleetDB("not a url://")


def test_the_results_journal_and_the_registry_share_one_file(tmp_path):
    from datetime import datetime, timezone

    from qiloop.fleet.results_db import ResultsDB
    from qiloop.protocol.messages import InferenceResult

    path = tmp_path / "fleet.db"
    message = InferenceResult(device_id="cam-1", sequence=1, time=datetime(2024, 5, 1, tzinfo=timezone.utc),
                              image_name="a.png", model_name="m", model_version="1", verdict="pass",
                              latency_ms=1.0)  # fmt: skip
    with ResultsDB(path, background=False) as results:  # the journal first, then the registry opens the same file
        assert results.add_result(message)
        registry = FleetDB(path)
        registry.add_hello(DeviceHello(device_id="cam-1", groups=["line"]), at=1.0)
        assert results.pending() == 1 and not results.add_result(message)
    registry.close()
    with ResultsDB(path, background=False) as results:
        assert [r.message.sequence for r in results.results()] == [1]
    reopened = FleetDB(path)
    try:
        assert [d.device_id for d in reopened.devices()] == ["cam-1"]
    finally:
        reopened.close()
