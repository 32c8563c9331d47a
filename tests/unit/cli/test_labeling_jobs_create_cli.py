"""``qiloop labeling jobs create`` calls the loop's use case and keeps its own words and exit codes."""

from __future__ import annotations

import json

from labeling_helpers import ingest_images
from qiloop.cli.main import main
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.settings import Settings
from qiloop.storage import ImageStore


def create(capsys, home, *args) -> tuple[int, str, str]:
    code = main(["labeling", "jobs", "create", *map(str, args), "--home", str(home)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_unknown_source_is_refused_with_the_options_that_exist(capsys, tmp_path):
    code, _, err = create(capsys, tmp_path / "home", "j1", "--from", "camera")
    assert code == ConfigurationError.exit_code
    assert "unknown --from 'camera'" in err and "--from unlabeled or --from feedback" in err


def test_a_job_takes_free_images_and_a_second_finds_none_left(capsys, tmp_path):
    home = tmp_path / "home"
    ingest_images(ImageStore.from_settings(Settings(home=home)), 2)
    code, out, _ = create(capsys, home, "first", "--head-count", "--quorum", "2", "--json")
    assert code == 0
    created = json.loads(out)
    assert (created["name"], created["images"], created["state"]) == ("first", 2, "open")
    code, _, err = create(capsys, home, "second")
    assert code == NotFoundError.exit_code
    assert "no image to label for job 'second'" in err


def test_a_taken_name_is_refused_before_any_image_is_chosen(capsys, tmp_path):
    home = tmp_path / "home"
    ingest_images(ImageStore.from_settings(Settings(home=home)), 1)
    assert create(capsys, home, "tags")[0] == 0
    code, _, err = create(capsys, home, "tags")
    assert code == ConfigurationError.exit_code
    assert "a job named 'tags' already exists" in err
