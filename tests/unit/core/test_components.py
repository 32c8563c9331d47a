"""Components: validation, content digest, dependency checks; deployments: admission rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from qiloop.core.components import Component, ComponentFile, unmet_dependencies
from qiloop.core.deployments import (
    ComponentRef,
    Deployment,
    DeploymentState,
    SignedDeployment,
    Target,
    admission_problem,
)
from qiloop.core.errors import InvalidRecordError

SHA = "a" * 64


def _component(name="scratch-model", version="3", kind="model", **extra) -> Component:
    return Component(
        name=name, version=version, kind=kind, files=[ComponentFile(name="model.onnx", sha256=SHA, size=10)], **extra
    )


def test_digest_is_stable_and_changes_with_any_field():
    a = _component()
    same = Component.model_validate_json(a.model_dump_json())
    assert a.digest == same.digest
    assert a.digest != a.model_copy(update={"version": "4"}).digest
    assert a.key == "scratch-model/3" and a.size == 10


@pytest.mark.parametrize(
    "files",
    [
        [{"name": "../evil", "sha256": SHA, "size": 1}],
        [{"name": "a/b.onnx", "sha256": SHA, "size": 1}],
        [{"name": "m.onnx", "sha256": "xyz", "size": 1}],
        [{"name": "m.onnx", "sha256": SHA, "size": -1}],
        [{"name": "m.onnx", "sha256": SHA, "size": 1}, {"name": "m.onnx", "sha256": SHA, "size": 1}],
        [],
    ],
)
def test_bad_file_lists_are_refused(files):
    with pytest.raises(ValidationError):
        Component(name="m", version="1", kind="model", files=files)


def test_bad_names_versions_and_ranges_are_refused():
    with pytest.raises(ValidationError):
        _component(name="Has Space")
    with pytest.raises(InvalidRecordError):
        _component(version="v3")
    with pytest.raises(InvalidRecordError):
        _component(kind="inference", dependencies={"scratch-model": ">=x"})


def test_unmet_dependencies_name_what_is_missing_or_out_of_range():
    code = _component(name="inference", version="0.2", kind="inference", dependencies={"scratch-model": ">=3"})
    assert unmet_dependencies({"inference": code, "scratch-model": _component(version="3")}) == []
    (missing,) = unmet_dependencies({"inference": code})
    assert "not part of the set" in missing
    (old,) = unmet_dependencies({"inference": code, "scratch-model": _component(version="2")})
    assert "has 2" in old


def _deployment(**changes) -> Deployment:
    ref = ComponentRef(name="scratch-model", version="3", digest=_component().digest)
    fields = {"sequence": 5, "target": Target(kind="group", name="line-1"), "components": [ref]} | changes
    return Deployment(**fields)


NOW = datetime.now(timezone.utc)


@pytest.mark.parametrize(
    ("changes", "groups", "last", "problem"),
    [
        ({}, {"line-1"}, 4, None),
        ({}, {"line-2"}, 4, "not in"),
        ({"target": Target(kind="device", name="cam-2")}, set(), 0, "not 'cam-1'"),
        ({"target": Target(kind="device", name="cam-1")}, set(), 0, None),
        ({}, {"line-1"}, 5, "replay"),
        ({"expires_at": NOW - timedelta(seconds=1)}, {"line-1"}, 0, "expired"),
    ],
)
def test_admission(changes, groups, last, problem):
    found = admission_problem(_deployment(**changes), device_id="cam-1", groups=groups, last_sequence=last, now=NOW)
    assert (found is None) if problem is None else (problem in found)


def test_signed_envelope_parses_exactly_the_signed_bytes():
    d = _deployment()
    envelope = SignedDeployment(document=d.canonical().decode(), key_id="k1", signature="c2ln")
    assert envelope.deployment() == d
    assert envelope.deployment().component("scratch-model").version == "3"
    broken = SignedDeployment(document='{"id": 1}', key_id="k1", signature="c2ln")
    with pytest.raises(InvalidRecordError, match="malformed"):
        broken.deployment()


def test_final_states():
    assert DeploymentState.SUCCEEDED.final and DeploymentState.REJECTED.final
    assert not DeploymentState.INSTALLING.final
