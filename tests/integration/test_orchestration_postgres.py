"""deploy/dagster/dagster.yaml against the local PostgreSQL: runs, cursors and events land in the database.

A throwaway database is created and dropped; the test skips (fails under CI) when
the server on 127.0.0.1:5432 is not reachable.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("dagster", reason="needs qiloop[orchestrate]")
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SERVER = "postgresql://postgres@127.0.0.1:5432"
DAGSTER_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster" / "dagster.yaml"


@pytest.fixture
def database(postgres_url):
    """The throwaway database's name (the fixture in conftest makes and drops it)."""
    return postgres_url.rsplit("/", 1)[1]


def test_the_instance_file_keeps_runs_and_cursors_in_postgresql(database, tmp_path, monkeypatch):
    pytest.importorskip("dagster_postgres", reason="needs dagster-postgres (qiloop[orchestrate])")
    import dagster as dg
    import psycopg2
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    from qiloop.orchestration.inprocess import LocalLoop
    from qiloop.settings import load_settings

    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(DAGSTER_YAML, home / "dagster.yaml")
    env = {"HOST": "127.0.0.1", "PORT": "5432", "USER": "postgres", "PASSWORD": "unused (trust)", "DB": database}
    for name, value in env.items():
        monkeypatch.setenv(f"DAGSTER_PG_{name}", value)

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        settings = load_settings(home=tmp_path / "qiloop")
        camera = settings.camera_folder
        camera.mkdir(parents=True)
        from PIL import Image

        for i in range(2):
            Image.new("RGB", (32, 24), (i * 90, 40, 200)).save(camera / f"frame-{i}.png")
        loop = LocalLoop(settings, instance)
        [turn] = loop.tick("camera_folder")
        assert turn.success and turn.materialized["new_images"]["added"] == 2
        assert loop.tick("camera_folder") == []
    finally:
        instance.dispose()

    with psycopg2.connect(f"{SERVER}/{database}") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
        assert cur.fetchone()[0] == 1
