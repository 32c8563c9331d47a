"""`qiloop labeling jobs close|reopen|cancel` and `qiloop labeling users role|passwd` on a real home folder."""

from __future__ import annotations

import io
import json

import pytest
import typer
from typer.testing import CliRunner

from labeling_helpers import PASSWORD, add_users, ingest_images
from qiloop.cli import labeling as label_cli
from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.labeling import auth, jobs, tasks
from qiloop.labeling.db import Database
from qiloop.labeling.errors import ConflictError
from qiloop.labeling.workforce import find_user
from qiloop.settings import Settings
from qiloop.storage import ImageStore

runner = CliRunner()
NEW = "a much better passphrase"


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(label_cli.app, name="labeling")
    return root


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def db(home):
    database = Database.from_settings(Settings(home=home))
    yield database
    database.dispose()


def invoke(app, *args, stdin: str | None = None):
    return runner.invoke(app, ["labeling", *map(str, args)], input=stdin)


def test_jobs_close_reopen_cancel(app, home, db):
    records = ingest_images(ImageStore.from_settings(Settings(home=home)), 2)
    with db.session() as session:
        jobs.create_job(session, jobs.JobSpec.build(name="tags-1", classes=["scratch"]), records)
    add_users(db, "ann")
    held = tasks.next_task(db, "tags-1", "ann")

    closed = invoke(app, "jobs", "close", "tags-1", "--home", home, "--json")
    assert closed.exit_code == 0, closed.output
    report = json.loads(closed.stdout)
    assert (report["previous"], report["state"], report["changed"], report["images"]) == ("open", "closed", True, 2)
    assert "already closed" in invoke(app, "jobs", "close", "tags-1", "--home", home).output
    listed = json.loads(invoke(app, "jobs", "ls", "--home", home, "--json").stdout)
    assert [j["state"] for j in listed] == ["closed"]
    assert "closed" in invoke(app, "jobs", "ls", "--home", home).output
    assert "closed -> open" in invoke(app, "jobs", "reopen", "tags-1", "--home", home).output

    declined = invoke(app, "jobs", "cancel", "tags-1", "--home", home, stdin="n\n")
    assert declined.exit_code == 1 and "cannot be reopened" in declined.output
    assert json.loads(invoke(app, "jobs", "ls", "--home", home, "--json").stdout)[0]["state"] == "open"
    cancelled = invoke(app, "jobs", "cancel", "tags-1", "--home", home, stdin="y\n")
    assert cancelled.exit_code == 0 and "open -> cancelled; 1 outstanding lease(s) ended" in cancelled.output
    with pytest.raises(ConflictError, match="cancelled"):
        tasks.submit(db, held.id, "ann", [])
    assert (
        json.loads(invoke(app, "jobs", "cancel", "tags-1", "--yes", "--home", home, "--json").stdout)["changed"]
        is False
    )


def test_job_lifecycle_errors_become_exit_codes(home, db, capsys):
    records = ingest_images(ImageStore.from_settings(Settings(home=home)), 1)
    with db.session() as session:
        jobs.create_job(session, jobs.JobSpec.build(name="tags-1", classes=["scratch"]), records)
    assert main(["labeling", "jobs", "close", "nope", "--home", str(home)]) == NotFoundError.exit_code
    assert "no labelling job named 'nope'" in capsys.readouterr().err
    assert main(["labeling", "jobs", "cancel", "tags-1", "--yes", "--home", str(home)]) == 0
    assert main(["labeling", "jobs", "reopen", "tags-1", "--home", str(home)]) == ConflictError.exit_code
    assert "stays cancelled" in capsys.readouterr().err


def test_users_role_and_passwd(app, home, db, monkeypatch, capsys):
    add_users(db, "ann")
    add_users(db, "root", role="admin")
    with db.session() as session:
        cookie = auth.start_session(session, find_user(session, "ann")).cookie

    result = invoke(app, "users", "role", "ann", "verifier", "--home", home)
    assert result.exit_code == 0 and "ann is now a verifier" in result.output
    assert json.loads(invoke(app, "users", "role", "ann", "ADMIN", "--home", home, "--json").stdout) == {
        "username": "ann", "role": "admin",
    }  # fmt: skip
    result = invoke(app, "users", "passwd", "ann", "--home", home, stdin=f"{NEW}\n{NEW}x\n{NEW}\n{NEW}\n")
    assert result.exit_code == 0, result.output  # asked twice; a mismatch asks again
    assert "1 browser session(s) ended" in result.output
    with db.session() as session:
        assert auth.resolve_session(session, cookie) is None
        assert auth.authenticate(session, "ann", NEW) is not None
    result = invoke(app, "users", "passwd", "ann", "--password-stdin", "--home", home, "--json", stdin=PASSWORD + "\n")
    assert json.loads(result.stdout) == {"username": "ann", "sessions_ended": 0}
    with db.session() as session:
        assert auth.authenticate(session, "ann", PASSWORD) is not None

    home_arg = ["--home", str(home)]
    assert main(["labeling", "users", "role", "ann", "boss", *home_arg]) == ConfigurationError.exit_code
    assert main(["labeling", "users", "role", "nobody", "admin", *home_arg]) == NotFoundError.exit_code
    assert main(["labeling", "users", "role", "ann", "labeler", *home_arg]) == 0
    assert main(["labeling", "users", "role", "root", "labeler", *home_arg]) == ConflictError.exit_code
    assert "last enabled admin" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["labeling", "users", "passwd", "ann", "--password-stdin", *home_arg]) == ConfigurationError.exit_code
    assert "shorter than 8" in capsys.readouterr().err
