"""`qiloop labeling db upgrade|downgrade|current|history` on a real SQLite database in a home folder."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import create_engine, text

from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError, StoreError
from qiloop.labeling import migrate


@pytest.fixture
def home(tmp_path):
    (tmp_path / "home").mkdir()  # an existing home without a labelling database yet
    return str(tmp_path / "home")


def run(capsys, *args) -> tuple[int, str]:
    code = main(["labeling", "db", *args])
    return code, capsys.readouterr().out


def test_upgrade_current_downgrade_history(home, capsys):
    head = migrate.history()[-1].id
    code, out = run(capsys, "current", "--home", home, "--json")
    assert code == 1 and json.loads(out) == {
        "current": None, "head": head, "up_to_date": False, "known": True, "unversioned": False
    }  # fmt: skip

    code, out = run(capsys, "upgrade", "--home", home, "--json")
    assert code == 0 and (json.loads(out)["before"]["current"], json.loads(out)["after"]["current"]) == (None, head)
    code, out = run(capsys, "upgrade", "--home", home)
    assert code == 0 and f"already at {head} (head)" in out
    code, out = run(capsys, "current", "--home", home)
    assert code == 0 and f"revision {head} (head)" in out

    code, out = run(capsys, "downgrade", "0001", "--yes", "--home", home)
    assert code == 0 and f"{head} (head) -> 0001 (head is {head})" in out
    assert run(capsys, "current", "--home", home)[0] == 1

    code, out = run(capsys, "history", "--json")
    assert code == 0 and [r["revision"] for r in json.loads(out)] == ["0001", "0002", "0003"]
    assert json.loads(out)[1]["down_revision"] == "0001"
    code, out = run(capsys, "history")
    assert "Gold pre-labels per job" in out


def test_downgrade_asks_first_and_unknown_revisions_are_usage_errors(home, capsys, monkeypatch):
    assert run(capsys, "upgrade", "--home", home)[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert run(capsys, "downgrade", "base", "--home", home)[0] == 130
    assert json.loads(run(capsys, "current", "--home", home, "--json")[1])["up_to_date"] is True
    assert main(["labeling", "db", "upgrade", "9999", "--home", home]) == ConfigurationError.exit_code
    assert "qiloop labeling db history" in capsys.readouterr().err


def test_current_on_a_missing_home_does_not_create_it(tmp_path, capsys):
    missing = tmp_path / "typo"
    assert main(["labeling", "db", "current", "--home", str(missing)]) == 5
    assert "no qiloop home" in capsys.readouterr().err and not missing.exists()


def test_a_database_migrated_by_a_newer_qiloop_stops_every_command(home, capsys, tmp_path):
    assert run(capsys, "upgrade", "--home", home)[0] == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'home' / 'labeling.db'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    assert main(["labeling", "users", "ls", "--home", home]) == StoreError.exit_code
    err = " ".join(capsys.readouterr().err.split())  # unwrapped
    assert "'0099', which this qiloop does not know" in err and "hint: run the qiloop version" in err
    code, out = run(capsys, "current", "--home", home)
    assert code == 1 and "0099 (unknown to this qiloop" in out


def test_the_head_constant_names_the_newest_script():
    assert migrate.HEAD == migrate.scripts().get_current_head() == migrate.history()[-1].id
