"""Which home a command works on: read-only commands never create one; ``qiloop --home`` on the root."""

from __future__ import annotations

import json
import os

import pytest

from qiloop.cli.home import homes_in
from qiloop.cli.main import main

READ_ONLY = [
    ("models", "ls"),
    ("models", "show", "scratch-detector/1"),
    ("labels", "stats"),
    ("labels", "ls"),
    ("labels", "snapshot"),
    ("labels", "versions"),
    ("labels", "history", "0" * 64),
    ("labels", "export", "--format", "coco", "--out", "out.json"),
    ("images", "ls"),
    ("images", "show", "abc"),
    ("images", "feedback"),
    ("results", "ls"),
    ("labeling", "jobs", "ls"),
    ("labeling", "users", "ls"),
    ("labeling", "gold", "ls"),
]


@pytest.fixture
def here(tmp_path, monkeypatch):
    """An empty working folder with no QILOOP_* setting in the environment."""
    for name in [n for n in os.environ if n.startswith("QILOOP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def png(tmp_path):
    from PIL import Image

    path = tmp_path / "camera" / "tag-0001.png"
    path.parent.mkdir()
    Image.new("RGB", (32, 24), (120, 90, 60)).save(path)
    return path


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_command_on_a_missing_home_exits_5_and_names_the_homes_here(here, capsys, args):
    (here / ".qiloop-demo" / "labels").mkdir(parents=True)  # what `make demo` leaves
    assert main(list(args)) == 5
    err = capsys.readouterr().err
    assert "no qiloop home at .qiloop" in err and "--home" in err and "QILOOP_HOME" in err
    assert "homes in this folder: .qiloop-demo" in err
    assert not (here / ".qiloop").exists()


def test_without_a_home_nearby_the_hint_says_what_creates_one(here, capsys):
    assert main(["labels", "stats", "--home", str(here / "nowhere")]) == 5
    err = capsys.readouterr().err
    assert f"no qiloop home at {here / 'nowhere'}" in err and "images ingest" in err
    assert not (here / "nowhere").exists()


def test_a_command_that_writes_creates_the_home(here, png):
    assert main(["images", "ingest", str(png), "--home", "new-home", "--json"]) == 0
    assert (here / "new-home" / "images").is_dir()


def test_root_home_is_the_default_and_a_command_home_wins(here, png, capsys, monkeypatch):
    home = here / "h"
    assert main(["--home", str(home), "images", "ingest", str(png), "--json"]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "images", "ls", "--json"]) == 0
    assert [r["original_name"] for r in json.loads(capsys.readouterr().out)] == ["tag-0001.png"]
    assert main(["--home", str(here / "typo"), "images", "ls", "--json", "--home", str(home)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    monkeypatch.setenv("QILOOP_HOME", str(home))
    assert main(["images", "ls", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["--home", str(here / "typo"), "images", "ls"]) == 5  # the root option beats the environment
    assert "typo" in capsys.readouterr().err and not (here / "typo").exists()


def test_homes_are_recognised_by_their_contents(tmp_path):
    for name, marker in [(".qiloop", "images"), (".qiloop-demo", "mlflow"), ("lab", "labeling.db")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / marker).mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in homes_in(tmp_path)] == [".qiloop", ".qiloop-demo", "lab"]
