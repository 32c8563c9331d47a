"""`qiloop labeling users|jobs ...` on a real home folder (SQLite, image store, label store)."""

from __future__ import annotations

import io
import json

import pytest
import typer
from typer.testing import CliRunner

from labeling_helpers import PASSWORD, ingest_images
from qiloop.cli import labeling as label_cli
from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.settings import Settings
from qiloop.storage import ImageStore

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(label_cli.app, name="labeling")
    return root


def invoke(app, *args, stdin: str | None = None):
    return runner.invoke(app, ["labeling", *map(str, args)], input=stdin)


def test_users_add_ls_disable(app, tmp_path):
    home = tmp_path / "home"
    result = invoke(app, "users", "add", "ann", "--password-stdin", "--home", home, stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "added labeler ann" in result.output
    result = invoke(
        app, "users", "add", "vera", "--role", "verifier", "--home", home, stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output  # prompted twice (confirmation)
    assert (home / "labeling.db").is_file()

    listed = json.loads(invoke(app, "users", "ls", "--home", home, "--json").stdout)
    assert [(u["username"], u["role"], u["disabled"], u["gold_items"]) for u in listed] == [
        ("ann", "labeler", False, 0),
        ("vera", "verifier", False, 0),
    ]
    assert invoke(app, "users", "disable", "ann", "--home", home).exit_code == 0
    table = invoke(app, "users", "ls", "--home", home).output
    assert "ann" in table and "disabled" in table
    listed = json.loads(invoke(app, "users", "ls", "--home", home, "--json").stdout)
    assert listed[0]["disabled"] is True
    assert "enabled" in invoke(app, "users", "disable", "ann", "--enable", "--home", home).output


def test_errors_become_exit_codes(tmp_path, monkeypatch, capsys):
    home = str(tmp_path / "home")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["labeling", "users", "add", "ann", "--password-stdin", "--home", home]) == ConfigurationError.exit_code
    assert "shorter than" in capsys.readouterr().err
    assert main(["labeling", "users", "disable", "nobody", "--home", home]) == NotFoundError.exit_code
    assert main(["labeling", "jobs", "create", "j1", "--home", home]) == NotFoundError.exit_code  # no images at all


def test_jobs_create_from_unlabeled_and_named_images_then_ls(app, tmp_path):
    home = tmp_path / "home"
    records = ingest_images(ImageStore.from_settings(Settings(home=home)), 3)
    result = invoke(app, "jobs", "create", "tags-1", "--annotators", "2", "--limit", "2", "--home", home, "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["images"] == 2 and created["classes"] == ["scratch"] and created["annotators_per_image"] == 2
    result = invoke(
        app, "jobs", "create", "tags-2", "--image", records[2].sha256[:10], "--class", "scratch", "--class", "dent",
        "--instructions", "Mark every scratch.", "--home", home,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tags-2" in result.output and "1 images" in result.output
    jobs = json.loads(invoke(app, "jobs", "ls", "--home", home, "--json").stdout)
    assert [(j["name"], j["images"], j["labeling"], j["classes"]) for j in jobs] == [
        ("tags-2", 1, 1, ["scratch", "dent"]),
        ("tags-1", 2, 2, ["scratch"]),
    ]
    assert "tags-1" in invoke(app, "jobs", "ls", "--home", home).output
    bad = invoke(app, "jobs", "create", "tags 3", "--home", home)
    assert isinstance(bad.exception, ConfigurationError) and "name" in str(bad.exception)
    bad = invoke(app, "jobs", "create", "tags-3", "--from", "camera", "--home", home)
    assert isinstance(bad.exception, ConfigurationError)


def test_jobs_create_limit_counts_free_images_only(app, tmp_path):
    home = tmp_path / "home"
    ingest_images(ImageStore.from_settings(Settings(home=home)), 9)
    first = invoke(app, "jobs", "create", "first", "--limit", "3", "--home", home, "--json")
    assert first.exit_code == 0 and json.loads(first.stdout)["images"] == 3, first.output
    # 6 images are free; 3 are held by the first job: --limit 3 takes 3 of the free ones ...
    second = invoke(app, "jobs", "create", "second", "--limit", "3", "--home", home, "--json")
    assert second.exit_code == 0 and json.loads(second.stdout)["images"] == 3, second.output
    # ... and --limit 8 takes the 3 still free, not fewer
    third = invoke(app, "jobs", "create", "third", "--limit", "8", "--home", home, "--json")
    assert third.exit_code == 0 and json.loads(third.stdout)["images"] == 3, third.output
