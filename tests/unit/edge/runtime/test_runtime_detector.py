"""The ONNX Runtime detector on a real exported YOLOv8n package (untrained, seeded)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from qiloop.core.errors import ImageRejectedError, InvalidRecordError, NotFoundError
from qiloop.core.package import MANIFEST, write_manifest
from qiloop.edge.runtime import OnnxDetector


def photo(h: int = 150, w: int = 225, seed: int = 0) -> np.ndarray:
    from onnx_models import random_photo

    return random_photo(seed, (h, w))


@pytest.fixture(scope="module")
def detector(tiny_package):
    return OnnxDetector.from_package(tiny_package, threads=1)


def test_loads_verified_and_ready(detector):
    assert detector.ready and detector.input_size == (64, 96) and detector.classes == ["scratch"]
    assert detector.session.get_session_options().intra_op_num_threads == 1
    assert "model.onnx" in repr(detector)


def test_every_image_form_gives_the_same_detections(detector, tmp_path):
    rgb = photo()
    png = io.BytesIO()
    Image.fromarray(rgb).save(png, format="PNG")
    (tmp_path / "a.png").write_bytes(png.getvalue())
    results = [
        detector.detect(x, confidence=0.05) for x in (rgb, Image.fromarray(rgb), png.getvalue(), tmp_path / "a.png")
    ]
    assert len(results[0]) > 0, "the seeded model should score some anchors above 0.05"
    for other in results[1:]:
        assert np.array_equal(other.xyxy, results[0].xyxy) and np.array_equal(other.scores, results[0].scores)


def test_boxes_lie_in_original_pixels(detector):
    d = detector.detect(photo(300, 450), confidence=0.01)
    assert len(d) > 0
    assert d.xyxy[:, [0, 2]].min() >= 0 and d.xyxy[:, [0, 2]].max() <= 450
    assert d.xyxy[:, [1, 3]].min() >= 0 and d.xyxy[:, [1, 3]].max() <= 300
    assert np.all(np.diff(d.scores) <= 0)


def test_thresholds_default_from_manifest_and_override(detector):
    rgb = photo(seed=2)
    low = detector.detect(rgb, confidence=0.0, iou=1.0, max_detections=1000)
    assert len(low) == 126  # every anchor of a 64x96 input: 8x12 + 4x6 + 2x3
    assert len(detector.detect(rgb, confidence=0.0, iou=1.0, max_detections=7)) == 7
    assert len(detector.detect(rgb, confidence=1.0)) == 0
    default = detector.detect(rgb)
    assert np.all(default.scores >= detector.manifest.thresholds.confidence)


def test_detect_batch_matches_detect(detector):
    images = [photo(seed=s) for s in range(3)]
    batch = detector.detect_batch(images, confidence=0.05)
    assert [len(b) for b in batch] == [len(detector.detect(i, confidence=0.05)) for i in images]


def test_int8_model_runs(tiny_package):
    int8 = OnnxDetector.from_package(tiny_package, threads=1, int8=True)
    assert int8.model_file == "model.int8.onnx" and int8.ready
    assert len(int8.detect(photo(), confidence=0.0, iou=1.0, max_detections=1000)) == 126


def test_unreadable_image_is_rejected(detector):
    with pytest.raises(ImageRejectedError, match="not a readable image"):
        detector.detect(b"\xff\xd8\xff garbage")


@pytest.fixture
def copy(tiny_package, tmp_path):
    target = tmp_path / "package"
    shutil.copytree(tiny_package, target)
    return target


def test_an_altered_package_is_refused(copy):
    data = bytearray((copy / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(InvalidRecordError, match="does not match its manifest"):
        OnnxDetector.from_package(copy)


def test_missing_int8_model_is_a_clear_error(copy):
    (copy / "model.int8.onnx").unlink()
    write_manifest(copy, name="t", classes=["scratch"], input_height=64, input_width=96)
    with pytest.raises(NotFoundError, match=r"has no model\.int8\.onnx"):
        OnnxDetector.from_package(copy, int8=True)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"classes": ["scratch", "dent"], "input_height": 64, "input_width": 96}, "outputs"),
        ({"classes": ["scratch"], "input_height": 320, "input_width": 448}, "expects 64x96"),
    ],
    ids=["class-count", "input-size"],
)
def test_a_manifest_that_contradicts_the_model_is_refused(copy, fields, fragment):
    write_manifest(copy, name="t", **fields)
    with pytest.raises(InvalidRecordError, match=fragment):
        OnnxDetector.from_package(copy)


def test_a_file_that_is_not_onnx_is_refused(copy):
    (copy / "model.onnx").write_bytes(b"not a model")
    manifest = json.loads((copy / MANIFEST).read_text())
    write_manifest(copy, **{k: manifest[k] for k in ("name", "classes", "input_height", "input_width")})
    with pytest.raises(InvalidRecordError, match="cannot load"):
        OnnxDetector.from_package(copy)


HEAVY = ["torch", "ultralytics", "mlflow", "dagster", "fastapi", "sqlalchemy", "deltalake", "polars", "pyarrow", "cv2"]


def test_the_runtime_imports_no_framework():
    code = (
        "import sys, qiloop.edge.runtime as r; "
        f"print(','.join(m for m in {HEAVY!r} + ['onnxruntime'] if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"qiloop.edge.runtime pulled in {out} at import"


def test_a_running_detector_imports_no_framework(tiny_package):
    code = (
        "import sys, numpy as np; from qiloop.edge.runtime import OnnxDetector; "
        f"d = OnnxDetector.from_package({str(tiny_package)!r}, threads=1); "
        "d.detect(np.zeros((30, 40, 3), np.uint8)); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"running the detector pulled in {out}"
