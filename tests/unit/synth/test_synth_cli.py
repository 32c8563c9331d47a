import pytest
import typer
from typer.testing import CliRunner

from qiloop.cli.synth import synth
from qiloop.core.errors import ConfigurationError
from qiloop.labelstore.formats import labels_csv


@pytest.fixture
def app():
    app = typer.Typer()
    app.command("synth")(synth)
    app.command("other")(lambda: None)  # two commands, so "synth" is a sub-command as in the real CLI
    return app


def test_synth_writes_a_data_set_and_says_what_it_wrote(app, tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["synth", "--n", "6", "--out", str(out), "--seed", "3", "--unlabeled", "2", "--size", "160x120"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 6 images" in result.output and "4 rows, 2 images unlabelled" in result.output
    assert len(list((out / "images").rglob("*.jpg"))) == 6
    parsed = labels_csv.read(out / "labels.csv")
    assert parsed.ok and len(parsed.drafts) == 4
    assert {(d.image_width, d.image_height) for d in parsed.drafts} == {(160, 120)}


def test_synth_help_explains_the_layout(app):
    result = CliRunner().invoke(app, ["synth", "--help"])
    assert result.exit_code == 0
    for word in ("--n", "--out", "--seed", "--unlabeled", "--size", "cropped-left-top", "labels.csv"):
        assert word in result.output


def test_synth_refuses_a_bad_size_with_a_hint(app, tmp_path):
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "x"), "--size", "big"])
    assert isinstance(result.exception, ConfigurationError)
    assert "WIDTHxHEIGHT" in result.exception.message and result.exception.hint
    assert not (tmp_path / "x").exists()


def test_synth_needs_an_output_folder(app):
    result = CliRunner().invoke(app, ["synth", "--n", "4"])
    assert result.exit_code == 2 and "--out" in result.output
