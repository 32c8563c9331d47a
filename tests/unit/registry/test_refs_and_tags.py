"""The pure half of the registry: references, tag encoding, production rule, keys and URIs."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from qiloop.core.errors import ConfigurationError, InvalidRecordError, NotFoundError
from qiloop.core.models import ApprovalStatus, ModelVersion, production_version
from qiloop.core.package import PackageFile
from qiloop.registry import tags as T
from qiloop.registry.backend import artifact_root_uri, database_uri, redact, sqlite_path
from qiloop.registry.refs import ModelRef, format_ref, parse_ref, resolve
from qiloop.registry.runs import flatten, metric_key

A, P, R = ApprovalStatus.APPROVED, ApprovalStatus.PENDING, ApprovalStatus.REJECTED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scratch-detector", ModelRef("scratch-detector", alias="production")),
        ("scratch-detector/3", ModelRef("scratch-detector", version=3)),
        ("scratch-detector:3", ModelRef("scratch-detector", version=3)),  # how results used to print it
        ("models:/scratch-detector:3", ModelRef("scratch-detector", version=3)),
        ("scratch-detector@production", ModelRef("scratch-detector", alias="production")),
        ("scratch-detector@latest", ModelRef("scratch-detector", alias="latest")),
        ("models:/scratch-detector/12", ModelRef("scratch-detector", version=12)),
        ("models:/scratch-detector@champion", ModelRef("scratch-detector", alias="champion")),
        (" 4 ", ModelRef("default", version=4)),
        ("@latest", ModelRef("default", alias="latest")),
        ("my model.v2", ModelRef("my model.v2", alias="production")),
    ],
)
def test_parse_ref(text, expected):
    assert parse_ref(text, default_name="default") == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("scratch-detector/x", "not a version number"),
        ("scratch-detector/0", "versions start at 1"),
        ("scratch-detector:x", "not a version number"),
        ("scratch-detector:0", "versions start at 1"),
        ("", "no model name"),
        ("@production", "no model name"),
        ("bad'name", "invalid model name"),
        ("name@not an alias", "invalid alias"),
    ],
)
def test_parse_ref_refuses(text, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        parse_ref(text)


@pytest.mark.parametrize(
    ("version", "printed"), [(2, "scratch-detector/2"), ("7", "scratch-detector/7"), ("", "scratch-detector/?")]
)
def test_format_ref_prints_the_form_parse_ref_reads(version, printed):
    assert format_ref("scratch-detector", version) == printed
    if version != "":
        assert parse_ref(printed) == ModelRef("scratch-detector", version=int(version))


def version(n: int, approval=A, aliases=()) -> ModelVersion:
    return ModelVersion(
        name="m", version=n, approval=approval, created_at=datetime(2024, 1, n, tzinfo=timezone.utc), aliases=aliases
    )


def test_resolve_version_alias_latest_and_hints():
    versions = [version(1, A, ("production",)), version(2, P), version(3, R)]
    assert resolve(ModelRef("m", version=2), versions).version == 2
    assert resolve(ModelRef("m", alias="production"), versions).version == 1
    assert resolve(ModelRef("m", alias="latest"), versions).version == 3
    with pytest.raises(NotFoundError, match="no version 7") as err:
        resolve(ModelRef("m", version=7), versions)
    assert "1 (Approved @production), 2 (PendingManualApproval), 3 (Rejected)" in err.value.hint
    with pytest.raises(NotFoundError, match="alias 'production'") as err:
        resolve(ModelRef("m", alias="production"), versions[1:])
    assert "qiloop models approve m/VERSION" in err.value.hint
    with pytest.raises(NotFoundError, match="no version") as err:
        resolve(ModelRef("m", alias="latest"), [])
    assert "no versions are registered" in err.value.hint


@pytest.mark.parametrize(
    ("approvals", "expected"),
    [
        ({}, None),
        ({1: P, 2: R}, None),
        ({1: A}, 1),
        ({1: A, 2: A}, 2),
        ({1: A, 2: A, 3: P}, 2),
        ({1: A, 2: R}, 1),
        ({1: R, 2: A, 3: R}, 2),
    ],
)
def test_production_is_newest_approved(approvals, expected):
    assert production_version(approvals) == expected


def test_tags_round_trip():
    files = {"model.onnx": PackageFile(sha256="a" * 64, size=10)}
    tags = T.version_tags(
        approval=A,
        metrics={"mAP50": 0.812, "recall": float("nan")},
        files=files,
        dataset_snapshot="abc",
        label_store_version=0,
        git_commit="deadbeef",
        reason="looks good",
        extra={"owner": "qa", "skip": None},
    )
    assert tags["approval_status"] == "Approved" and tags["label_store_version"] == "0"
    assert "metric.recall" not in tags and "skip" not in tags
    v = T.version_from_tags(
        name="m", version="4", tags=tags, created_ms=1_700_000_000_000, run_id="r1", source="s", aliases=["production"]
    )
    assert (v.ref, v.approval, v.metrics, v.files) == ("m/4", A, {"mAP50": 0.812}, files)
    assert (v.dataset_snapshot, v.label_store_version, v.git_commit, v.reason) == ("abc", 0, "deadbeef", "looks good")
    assert v.tags == {"owner": "qa"} and v.is_production
    assert v.created_at == datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)


def test_version_registered_elsewhere_reads_as_pending():
    v = T.version_from_tags(name="m", version=1, tags={}, created_ms=None, run_id=None, source="")
    assert v.approval == P and v.files == {} and v.label_store_version is None


@pytest.mark.parametrize(
    ("value", "expected"), [("Approved", A), ("APPROVED", A), ("approved", A), (R, R), ("PendingManualApproval", P)]
)
def test_approval_of(value, expected):
    assert T.approval_of(value) == expected


def test_approval_of_refuses_unknown():
    with pytest.raises(InvalidRecordError, match="Approved, PendingManualApproval, Rejected"):
        T.approval_of("yes")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("metrics/mAP50(B)", "metrics/mAP50_B"),
        ("metrics/mAP50-95(B)", "metrics/mAP50-95_B"),
        ("train/box_loss", "train/box_loss"),
        ("/a//b/", "a/b"),
        ("../x", "x"),
        ("ü?", "ü"),
        ("()", "_"),
    ],
)
def test_metric_key(key, expected):
    assert metric_key(key) == expected


def test_flatten_nests_and_cuts():
    flat = flatten({"model": {"yaml": "yolov8n.yaml", "imgsz": [320, 448]}, "epochs": 2, "long": "x" * 7000})
    assert flat["model.yaml"] == "yolov8n.yaml" and flat["model.imgsz"] == "[320, 448]" and flat["epochs"] == "2"
    assert len(flat["long"]) == 6000 and flat["long"].endswith("…")


def test_store_locations(tmp_path):
    assert sqlite_path("sqlite:///.qiloop/mlflow/mlflow.db") == Path(".qiloop/mlflow/mlflow.db")
    assert sqlite_path("sqlite:////tmp/a%20b/m.db") == Path("/tmp/a b/m.db")
    assert sqlite_path("postgresql://h/db") is None and sqlite_path("sqlite:///:memory:") is None
    assert artifact_root_uri(None, f"sqlite:///{tmp_path}/m.db") == (tmp_path / "artifacts").as_uri()
    assert artifact_root_uri("s3://bucket/mlflow/", "postgresql://h/db") == "s3://bucket/mlflow"
    assert artifact_root_uri(tmp_path / "a", "postgresql://h/db") == (tmp_path / "a").as_uri()
    assert artifact_root_uri(None, "http://mlflow:5000") is None
    with pytest.raises(ConfigurationError, match="no artefact location") as err:
        artifact_root_uri(None, "postgresql://u:secret@h/db")
    assert "secret" not in str(err.value)
    assert redact("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"


@pytest.mark.parametrize(
    ("uri", "installed", "expected"),
    [
        ("postgresql://u@h/db", {"psycopg2"}, "postgresql+psycopg2://u@h/db"),
        ("postgres://u@h/db", {"psycopg2"}, "postgresql+psycopg2://u@h/db"),
        ("postgresql://u@h/db", {"psycopg", "psycopg2"}, "postgresql://u@h/db"),
        ("postgresql+psycopg://u@h/db", {"psycopg2"}, "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", set(), "sqlite:///x.db"),
        ("http://mlflow:5000", set(), "http://mlflow:5000"),
    ],
)
def test_database_uri_names_an_installed_driver(uri, installed, expected):
    assert database_uri(uri, has_module=installed.__contains__) == expected
