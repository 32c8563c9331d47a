"""Component store and packaging: content addressing, immutability, model and code components."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from io import BytesIO

import pytest

from qiloop.core.components import ComponentKind
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.package import write_manifest
from qiloop.fleet.component_store import ComponentStore
from qiloop.fleet.packaging import (
    CODE_ARCHIVE,
    DEVICE_PACKAGES,
    INFERENCE_COMMAND,
    inference_component,
    model_component,
    source_archive,
)


def _package(folder, version="3", weights=b"fp32-weights"):
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(weights)
    (folder / "model.int8.onnx").write_bytes(b"int8-weights")
    write_manifest(
        folder, name="scratch-detector", version=version, classes=["scratch"], input_width=448, input_height=320
    )
    return folder


@pytest.fixture
def store(tmp_path):
    return ComponentStore.from_url(tmp_path / "components")


def test_publish_stores_each_content_once_and_reads_back(store, tmp_path):
    v3 = model_component(store, _package(tmp_path / "p3"))
    v4 = model_component(store, _package(tmp_path / "p4", version="4", weights=b"new fp32"))
    assert (v3.kind, v3.version, v4.version) == (ComponentKind.MODEL, "3", "4")
    assert {f.name for f in v3.files} == {"model.onnx", "model.int8.onnx", "manifest.json"}
    shared = {f.sha256 for f in v3.files} & {f.sha256 for f in v4.files}
    assert len(shared) == 1  # the unchanged INT8 file
    blobs = list((tmp_path / "components" / "blobs").rglob("*"))
    assert len([b for b in blobs if b.is_file()]) == 5  # 3 + 2 new, not 6
    assert store.versions("scratch-detector") == ["3", "4"]
    assert store.latest("scratch-detector") == v4
    onnx = next(f for f in v3.files if f.name == "model.onnx")
    assert store.read_file(onnx.sha256) == b"fp32-weights"
    assert store.local_file(onnx.sha256).read_bytes() == b"fp32-weights"


def test_versions_are_immutable_but_republishing_the_same_content_is_fine(store, tmp_path):
    package = _package(tmp_path / "a")
    first = model_component(store, package)
    assert model_component(store, package) == first
    with pytest.raises(ConfigurationError, match="already published with other content"):
        model_component(store, _package(tmp_path / "c", weights=b"changed"))


def test_missing_components_say_what_exists(store, tmp_path):
    model_component(store, _package(tmp_path / "a"))
    with pytest.raises(NotFoundError, match="published versions: 3"):
        store.get("scratch-detector", "9")
    assert store.versions("nothing") == [] and store.latest("nothing") is None


def test_a_package_without_version_cannot_be_a_component(store, tmp_path):
    with pytest.raises(ConfigurationError, match="no version"):
        model_component(store, _package(tmp_path / "a", version=""))


def test_source_archive_is_reproducible_and_holds_only_source(tmp_path):
    root = tmp_path / "qiloop"
    (root / "edge" / "__pycache__").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "edge" / "app.py").write_text("x = 1\n")
    (root / "edge" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    (root / "notes.txt").write_text("not code")
    first = source_archive(root)
    (root / "edge" / "app.py").touch()  # a new mtime changes nothing
    assert source_archive(root) == first
    names = zipfile.ZipFile(BytesIO(first)).namelist()
    assert names == ["qiloop/__init__.py", "qiloop/edge/app.py"]


def test_inference_code_gets_a_new_version_only_when_it_changes(store, tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "__init__.py").write_text("")
    one = inference_component(store, model_name="scratch-detector", source=root)
    assert inference_component(store, model_name="scratch-detector", source=root) == one
    (root / "__init__.py").write_text("VERSION = 2\n")
    two = inference_component(store, model_name="scratch-detector", source=root)
    assert (one.version, two.version) == ("1", "2")
    assert two.dependencies == {"scratch-detector": ">=1"} and two.lifecycle.unpack == [CODE_ARCHIVE]
    (archive,) = two.files
    assert archive.sha256 == hashlib.sha256(source_archive(root)).hexdigest()


def test_the_real_source_archive_holds_only_what_the_device_runs():
    names = set(zipfile.ZipFile(BytesIO(source_archive())).namelist())
    assert {"qiloop/__init__.py", "qiloop/edge/inference/__main__.py", "qiloop/edge/runtime/detector.py",
            "qiloop/core/records.py"} <= names  # fmt: skip
    tops = {name.split("/")[1] for name in names if name.count("/") > 1}
    assert tops <= set(DEVICE_PACKAGES), tops - set(DEVICE_PACKAGES)
    assert not [n for n in names if n.count("/") == 1 and n not in ("qiloop/__init__.py", "qiloop/py.typed")]
    assert INFERENCE_COMMAND[1:3] == ["-m", "qiloop.edge.inference"]


def test_the_unpacked_inference_component_runs_without_the_rest_of_qiloop(tmp_path):
    """The device's entry point and everything it imports load from the zip alone (no CLI, no cloud side)."""
    zipfile.ZipFile(BytesIO(source_archive())).extractall(tmp_path)
    outside = f"m.split('.')[1] not in {DEVICE_PACKAGES!r}"
    probe = (
        "import qiloop, qiloop.edge.inference.app, qiloop.edge.inference.__main__ as entry, sys;"
        "print(qiloop.__file__);"
        f"print(sorted(m for m in sys.modules if m.startswith('qiloop.') and {outside}))"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    origin, outside = done.stdout.splitlines()
    assert origin.startswith(str(tmp_path)) and outside == "[]"
    usage = subprocess.run([sys.executable, "-m", "qiloop.edge.inference", "--device-id", "cam-1", "x"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert usage.returncode == 2 and "key=value" in usage.stderr


def test_the_fleet_store_is_the_configured_url_or_the_homes_components_folder(tmp_path):
    from qiloop.settings import Settings

    default = ComponentStore.from_settings(Settings(home=tmp_path / "home"))
    assert default.url.rstrip("/").endswith(str(tmp_path / "home" / "components"))
    elsewhere = ComponentStore.from_settings(Settings(home=tmp_path / "home", component_store_url=str(tmp_path / "cs")))
    model_component(elsewhere, _package(tmp_path / "p"))
    assert (tmp_path / "cs" / "components" / "scratch-detector" / "3.json").is_file()
