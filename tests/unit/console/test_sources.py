"""Where the console finds Dagster's and MLflow's UIs: the running stack of the home, or a tracking server."""

from __future__ import annotations

from datetime import datetime, timezone

from qiloop.console.sources import ConsoleSources
from qiloop.settings import Settings
from qiloop.stack.health import HttpProbe
from qiloop.stack.record import RunningPart, StackLock, StackRecord, write_record


def sources(settings: Settings) -> ConsoleSources:
    return ConsoleSources(settings, image_store=None, label_store=None, db=None)


def part(name: str, url: str) -> RunningPart:
    return RunningPart(name=name, title=name, url=url, pid=1, log="x.log", probe=HttpProbe(url=url))


def record(home) -> StackRecord:
    return StackRecord(
        stack_id="s", pid=1, home=str(home), host="127.0.0.1", started_at=datetime.now(timezone.utc), state="running",
        parts=[part("dagster-webserver", "http://127.0.0.1:3000"), part("mlflow", "http://127.0.0.1:5000"),
               part("labeling", "http://127.0.0.1:8080")],
    )  # fmt: skip


def test_links_come_from_the_stack_while_it_runs(tmp_path):
    settings = Settings(home=tmp_path)
    write_record(tmp_path, record(tmp_path))
    assert sources(settings).links() == {}  # a record, but no qiloop up holds the home: nothing runs
    with StackLock(tmp_path):
        assert sources(settings).links() == {"dagster": "http://127.0.0.1:3000", "mlflow": "http://127.0.0.1:5000"}


def test_a_tracking_server_is_the_mlflow_link(tmp_path):
    settings = Settings(home=tmp_path, mlflow_tracking_uri="http://mlflow.example:5000")
    assert sources(settings).links() == {"mlflow": "http://mlflow.example:5000"}
    assert sources(Settings(home=tmp_path)).links() == {}  # a SQLite store has no UI of its own


def test_no_part_is_created_by_looking(tmp_path):
    s = sources(Settings(home=tmp_path))
    assert (s.registry(), s.fleet(), s.results(), s.alerts()) == (None, None, None, None)
    assert list(tmp_path.iterdir()) == []
