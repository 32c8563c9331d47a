"""Generic storage options translated for fsspec and delta-rs."""

from __future__ import annotations

import pytest

from qiloop.storage.backends import delta_options, fsspec_options, is_local, local_path

ENDPOINT = "http://127.0.0.1:9000"


AWS_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


@pytest.fixture(autouse=True)
def _no_aws_env(monkeypatch):
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("url", ["/data/images", "relative/images", "file:///data/images"])
def test_local_urls_need_no_options(url):
    assert is_local(url)
    assert fsspec_options(url, {"endpoint_url": ENDPOINT}) == {}
    assert delta_options(url, {"endpoint_url": ENDPOINT}) == {}


def test_local_path_is_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert local_path("file://x/y") == tmp_path / "x" / "y"
    assert local_path("x") == tmp_path / "x"


def test_s3_options_for_fsspec():
    opts = {"endpoint_url": ENDPOINT, "key": "k", "secret": "s", "region": "eu-west-1", "AWS_X": "1", "anon": False}
    assert fsspec_options("s3://b/images", opts) == {
        "client_kwargs": {"endpoint_url": ENDPOINT, "region_name": "eu-west-1"},
        "key": "k",
        "secret": "s",
        "anon": False,
    }
    assert fsspec_options("s3://b/images", None) == {}


def test_s3_options_for_delta():
    opts = delta_options("s3://b/t", {"endpoint_url": ENDPOINT, "key": "k", "secret": "s"})
    assert opts == {
        "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "conditional_put": "etag",
    }


def test_delta_credentials_and_region_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    opts = delta_options("s3a://b/t", {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"})
    assert opts["AWS_ACCESS_KEY_ID"] == "env-key"
    assert opts["AWS_SECRET_ACCESS_KEY"] == "env-secret"
    assert opts["AWS_REGION"] == "eu-central-1"
    assert opts["AWS_S3_ALLOW_UNSAFE_RENAME"] == "true"  # native keys pass through
    assert "AWS_ENDPOINT_URL" not in opts and "AWS_ALLOW_HTTP" not in opts


def test_https_endpoint_does_not_allow_http():
    assert "AWS_ALLOW_HTTP" not in delta_options("s3://b/t", {"endpoint_url": "https://minio.example"})
