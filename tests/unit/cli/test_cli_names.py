"""Names that say one thing each: ``--version`` vs ``--store-version``, ``labeling`` vs ``labels``."""

from __future__ import annotations

import re

import pytest

from qiloop import __version__
from qiloop.cli import common
from qiloop.cli.main import main


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # Typer's help is drawn for the terminal's width
    monkeypatch.setattr(common.console, "_width", 200)


def out_of(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_version_is_the_program_version_only_on_the_root(capsys):
    assert out_of(capsys, "--version") == (0, f"qiloop {__version__}\n")
    code, out = out_of(capsys, "labels", "ls", "--version", "1")
    assert code == 2 and "No such option" in out


@pytest.mark.parametrize("command", [("labels", "ls"), ("labels", "snapshot"), ("labels", "export"), ("train",)])
def test_label_store_versions_are_named_store_version(capsys, command):
    code, out = out_of(capsys, *command, "--help")
    assert code == 0 and "--store-version" in out and not re.search(r"--version\b", out)


def test_labeling_is_the_service_and_label_a_hidden_alias(capsys, tmp_path):
    code, out = out_of(capsys, "--help")
    assert code == 0
    commands = re.findall(r"^│ (\w+) ", out, flags=re.MULTILINE)
    assert "labeling" in commands and "labels" in commands and "label" not in commands
    home = tmp_path / "home"
    home.mkdir()
    code, new = out_of(capsys, "labeling", "jobs", "ls", "--home", str(home), "--json")
    assert code == 0 and new.strip() == "[]"
    assert out_of(capsys, "label", "jobs", "ls", "--home", str(home), "--json") == (0, new)
