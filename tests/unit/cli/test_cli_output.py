"""What the CLI prints is literal text: no rich markup read out of messages or user data; one model reference form."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from qiloop.cli import common
from qiloop.cli.main import main
from qiloop.core.errors import MissingDependencyError
from qiloop.settings import Settings

MARKUP_NAME = "[bold]tag[red]-1.png"  # rich markup would eat both tags


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    """Wide consoles, so table cells are not wrapped or cut."""
    monkeypatch.setattr(common.console, "_width", 250)
    monkeypatch.setattr(common.err_console, "_width", 250)


def test_missing_extra_hint_keeps_the_extra(capsys):
    assert common.print_error(MissingDependencyError("mlflow", "registry")) == 3
    err = capsys.readouterr().err
    assert "pip install 'qiloop[registry]'" in err and "error: this feature needs the package 'mlflow'" in err


def test_a_file_name_with_markup_prints_literally(tmp_path, capsys):
    from PIL import Image

    source = tmp_path / "camera"
    source.mkdir()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(source / MARKUP_NAME)
    home = tmp_path / "home"
    assert main(["images", "ingest", str(source), "--home", str(home)]) == 0
    capsys.readouterr()
    assert main(["images", "ls", "--home", str(home)]) == 0
    assert MARKUP_NAME in capsys.readouterr().out
    assert main(["labels", "import", str(tmp_path / "[red]gone[/red].csv"), "--home", str(home)]) == 5
    assert "[red]gone[/red].csv" in capsys.readouterr().err


def _result(sequence: int, name: str, version: str):
    from qiloop.protocol.messages import InferenceResult

    return InferenceResult(
        device_id="cam-1", sequence=sequence, image_name=name, model_name="scratch-detector",
        model_version=version, verdict="fail", latency_ms=3.0,
    )  # fmt: skip


def test_results_print_name_slash_version_and_names_literally(tmp_path, capsys):
    from qiloop.fleet.results_db import ResultsDB

    home = tmp_path / "home"
    home.mkdir()
    with ResultsDB.from_settings(Settings(home=home)) as db:
        db.add_result(_result(1, MARKUP_NAME, "2"))
    assert main(["results", "ls", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "scratch-detector/2" in out and "scratch-detector:2" not in out
    assert MARKUP_NAME in out


def test_feedback_prints_name_slash_version(tmp_path, capsys):
    from qiloop.storage import ImageStore
    from qiloop.storage.feedback import FeedbackEntry

    settings = Settings(home=tmp_path / "home")
    now = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
    entry = FeedbackEntry(
        image_sha256=hashlib.sha256(b"x").hexdigest(), image_name=MARKUP_NAME, device_id="cam-1",
        sequence=4, reason="uncertain", model_name="scratch-detector", model_version="2", sent_at=now,
    )  # fmt: skip
    ImageStore.from_settings(settings).feedback.append([entry])
    assert main(["images", "feedback", "--home", str(settings.home)]) == 0
    out = capsys.readouterr().out
    assert "scratch-detector/2" in out and "scratch-detector:2" not in out and MARKUP_NAME in out
