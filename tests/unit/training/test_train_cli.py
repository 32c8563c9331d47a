"""``qiloop train`` builds the same TrainConfig as Python does, and names bad keys."""

from __future__ import annotations

import typer
import yaml
from typer.testing import CliRunner

from qiloop.cli.train import train
from qiloop.core.errors import ConfigurationError
from qiloop.training.config import TrainConfig


def app() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train)

    @app.callback()
    def _root() -> None:
        """Root, so that ``train`` stays a sub-command."""

    return app


def test_config_file_and_overrides_build_the_python_object(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("epochs: 5\naugment:\n  mosaic: 0.5\n")
    weights = tmp_path / "start.pt"
    args = [
        "train",
        "--config",
        str(path),
        "--profile",
        "quick",
        "--weights",
        str(weights),
        "batch=4",
        "augment.flipud=0.5",
    ]
    result = CliRunner().invoke(app(), [*args, "--print-config"])
    assert result.exit_code == 0, result.output
    built = TrainConfig.from_file(path, base=TrainConfig.profile("quick"))
    expected = TrainConfig.from_overrides(built, ["batch=4", "augment.flipud=0.5", f"model={weights}"])
    assert TrainConfig.model_validate(yaml.safe_load(result.output)) == expected
    assert expected == TrainConfig.resolve(
        profile="quick", path=path, overrides=["batch=4", "augment.flipud=0.5", f"model={weights}"]
    )


def test_label_store_version_goes_into_the_config():
    result = CliRunner().invoke(app(), ["train", "--store-version", "3", "--print-config"])
    assert result.exit_code == 0 and "as_of: 3" in result.output


def test_bad_key_is_a_configuration_error():
    result = CliRunner().invoke(app(), ["train", "epoch=3", "--print-config"])
    assert isinstance(result.exception, ConfigurationError)
    assert "'epoch'" in result.exception.message and "epochs" in result.exception.hint
