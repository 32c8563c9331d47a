from pathlib import Path

import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.settings import load_settings


def test_defaults_live_under_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(home=tmp_path / "h")
    assert s.image_store_url == str(tmp_path / "h" / "images")
    assert s.label_store_url == str(tmp_path / "h" / "labels")
    assert s.labeling_db_url == f"sqlite:///{tmp_path / 'h' / 'labeling.db'}"
    assert s.mqtt_url is None


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QILOOP_HOME", str(tmp_path / "env-home"))
    monkeypatch.setenv("QILOOP_LABEL_STORE_URL", "s3://bucket/labels")
    monkeypatch.setenv("QILOOP_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    s = load_settings()
    assert s.home == tmp_path / "env-home"
    assert s.label_store_url == "s3://bucket/labels"
    assert s.storage_options(s.label_store_url) == {"endpoint_url": "http://127.0.0.1:9000"}
    assert s.storage_options(s.image_store_url) == {}


def test_toml_file_is_read_and_env_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("qiloop.toml").write_text('home = "from-toml"\nimage_store_url = "s3://b/images"\n')
    s = load_settings()
    assert s.home == Path("from-toml") and s.image_store_url == "s3://b/images"
    monkeypatch.setenv("QILOOP_IMAGE_STORE_URL", "/data/images")
    assert load_settings().image_store_url == "/data/images"


def test_invalid_settings_raise_actionable_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="group_pattern") as info:
        load_settings(group_pattern="(unclosed")
    assert "QILOOP_" in info.value.hint
    monkeypatch.setenv("QILOOP_MAX_IMAGE_PIXELS", "-5")
    with pytest.raises(ConfigurationError, match="max_image_pixels"):
        load_settings()


def test_uses_home_is_true_only_while_a_backend_lives_under_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(home=tmp_path / "h").uses_home()
    remote = {
        "image_store_url": "s3://b/images",
        "label_store_url": "s3://b/labels",
        "labeling_db_url": "postgresql+psycopg2://db/labels",
        "mlflow_tracking_uri": "http://mlflow:5000",
    }
    assert not load_settings(home=tmp_path / "h", **remote).uses_home()
    assert load_settings(home=tmp_path / "h", **(remote | {"mlflow_tracking_uri": ""})).uses_home()
