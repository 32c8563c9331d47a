import json

import pytest

from qiloop.core.errors import InvalidRecordError, NotFoundError
from qiloop.core.package import MANIFEST, read_manifest, write_manifest


@pytest.fixture
def package(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"fp32-weights")
    (tmp_path / "model.int8.onnx").write_bytes(b"int8")
    write_manifest(tmp_path, name="scratch", classes=["scratch"], input_width=448, input_height=320)
    return tmp_path


def test_round_trip_and_hashes(package):
    manifest = read_manifest(package)
    assert set(manifest.files) == {"model.onnx", "model.int8.onnx"}
    assert manifest.files["model.onnx"].size == len(b"fp32-weights")
    assert (manifest.input_width, manifest.input_height) == (448, 320)


def test_altered_file_is_refused(package):
    (package / "model.onnx").write_bytes(b"fp32-weightz")
    with pytest.raises(InvalidRecordError, match="does not match"):
        read_manifest(package)
    assert read_manifest(package, verify=False).name == "scratch"


def test_missing_file_and_missing_manifest(package, tmp_path_factory):
    (package / "model.int8.onnx").unlink()
    with pytest.raises(NotFoundError, match=r"lacks model\.int8\.onnx"):
        read_manifest(package)
    with pytest.raises(NotFoundError, match="not a model package"):
        read_manifest(tmp_path_factory.mktemp("empty"))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda m: m["files"].pop("model.onnx"), "must contain model.onnx"),
        (lambda m: m["files"].update({"../x": m["files"]["model.onnx"]}), "plain names"),
        (lambda m: m.update(classes=[]), "classes"),
        (lambda m: m.update(input_width=0), "input_width"),
    ],
)
def test_malformed_manifest(package, change, fragment):
    data = json.loads((package / MANIFEST).read_text())
    change(data)
    (package / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(InvalidRecordError, match=fragment):
        read_manifest(package, verify=False)
