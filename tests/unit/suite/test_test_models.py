"""The suite's model packages: the tiny detector's kept files, its layout, the export cache, the shared check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from package_helpers import shared
from tiny_models import DATA, KEPT, kept_name, tiny_package

TESTS = Path(__file__).resolve().parents[2]


def run(path: Path, image: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"images": image})[0]


@pytest.mark.parametrize(("h", "w", "classes", "seed"), sorted(KEPT))
def test_the_kept_files_are_what_the_generator_builds(h, w, classes, seed, tmp_path):
    pytest.importorskip("onnx", reason="rebuilding the tiny models needs onnx (the train extra)")
    from tiny_models import write_models

    fp32, int8 = write_models(tmp_path, (h, w), classes, seed)
    assert fp32.read_bytes() == (DATA / kept_name((h, w), classes, seed)).read_bytes(), (
        "tests/data/tiny-yolo is stale: run python tests/tiny_models.py"
    )
    image = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    kept_int8 = DATA / kept_name((h, w), classes, seed, int8=True)
    assert np.allclose(run(int8, image), run(kept_int8, image), atol=1e-4)


def test_the_output_has_yolov8s_layout_and_follows_the_image():
    path = DATA / kept_name((64, 96), 1, 0)
    rng = np.random.default_rng(1)
    a, b = (run(path, rng.random((1, 3, 64, 96), dtype=np.float32)) for _ in range(2))
    assert a.shape == (1, 5, 8 * 12 + 4 * 6 + 2 * 3)
    assert a[0, 4].min() >= 0 and a[0, 4].max() <= 1 and a[0, 4].std() > 0.05  # scores spread, not one value
    assert (a[0, 2:4] > 0).all() and (a[0, 0] >= 0).all() and (a[0, 0] <= 96).all() and (a[0, 1] <= 64).all()
    assert not np.allclose(a[0, 4], b[0, 4])


def test_the_int8_twin_is_another_file_with_close_scores():
    fp32, int8 = DATA / kept_name((64, 96), 1, 0), DATA / kept_name((64, 96), 1, 0, int8=True)
    assert fp32.read_bytes() != int8.read_bytes()
    image = np.random.default_rng(2).random((1, 3, 64, 96), dtype=np.float32)
    assert np.abs(run(fp32, image)[0, 4] - run(int8, image)[0, 4]).max() < 0.2


def test_a_tiny_package_loads_and_detects_without_onnx_torch_or_ultralytics(tmp_path):
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); from pathlib import Path; import numpy as np; "
        "from tiny_models import tiny_package; from qiloop.edge.runtime import OnnxDetector; "
        f"p = tiny_package(Path({str(tmp_path / 'package')!r}), int8=True); "
        "d = OnnxDetector.from_package(p, threads=1, int8=True); "
        "found = d.detect(np.full((60, 90, 3), 128, np.uint8), confidence=0.0, iou=1.0, max_detections=999); "
        "assert len(found) == 126, len(found); "
        "print(','.join(m for m in ('onnx', 'torch', 'ultralytics') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"building and running the tiny package imported {out.stdout.strip()}"


def test_shared_fails_when_a_test_changed_the_package(tmp_path):
    package = tiny_package(tmp_path / "package")
    with shared(package):
        copy = shutil.copytree(package, tmp_path / "copy")
        (copy / "model.onnx").write_bytes(b"changed")  # a copy may change
    with pytest.raises(AssertionError, match=r"changed model\.onnx in the shared package"), shared(package):
        (package / "model.onnx").write_bytes(b"changed")
    with pytest.raises(AssertionError, match=r"changed extra\.onnx"), shared(package):
        (package / "extra.onnx").write_bytes(b"added")


def test_an_export_in_the_cache_is_reused(tmp_path, monkeypatch):
    """A cached export is copied, not rebuilt: what lies under its key is what the package gets."""
    pytest.importorskip("ultralytics", reason="the export cache is keyed by the torch and ultralytics versions")
    import onnx_models

    monkeypatch.setattr(onnx_models, "CACHE", tmp_path / "cache")
    key = onnx_models.cache_key((64, 96), 1, 7)
    assert key != onnx_models.cache_key((64, 96), 1, 8) and key != onnx_models.cache_key((64, 128), 1, 7)
    (tmp_path / "cache").mkdir()
    shutil.copyfile(DATA / kept_name((64, 96), 1, 0), tmp_path / "cache" / f"{key}.onnx")
    package = onnx_models.build_package(tmp_path / "package", (64, 96), seed=7)
    assert (package / "model.onnx").read_bytes() == (DATA / kept_name((64, 96), 1, 0)).read_bytes()
