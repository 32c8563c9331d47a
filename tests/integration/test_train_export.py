"""Tiny synthetic data -> 1 epoch -> ONNX FP32 + INT8 package with a parity check -> verified manifest.

Kept tiny (20 images, 160 px, 1 epoch, batch 8, no workers): the point is the
round trip, not the model.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import typer
from onnx import numpy_helper
from typer.testing import CliRunner

from qiloop.core.errors import ConfigurationError, NotFoundError, ParityError
from qiloop.core.package import read_manifest
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.storage import ImageStore
from qiloop.synth import generate_dataset
from qiloop.training import ultralytics_adapter as adapter
from qiloop.training.config import TrainConfig
from qiloop.training.dataset import build_dataset
from qiloop.training.export import evenly, export_package, verify_parity
from qiloop.training.parity import compare
from qiloop.training.shapes import input_hw

pytestmark = pytest.mark.slow

RATIOS = "ratios={train: 0.5, val: 0.25, test: 0.25}"  # seed 3's five photos: 3 train, 1 val, 1 test
TINY = ["epochs=1", "imgsz=160", "batch=8", "workers=0", RATIOS, "export.calibration_images=4"]


def make_home(root, n: int, seed: int):
    """A qiloop home (images/, labels/) holding ``n`` synthetic labelled images."""
    generate_dataset(root / "data", n, seed=seed)
    images, labels = ImageStore.from_url(str(root / "images")), LabelStore.from_url(str(root / "labels"))
    report = import_parsed(labels_csv.read(root / "data" / "labels.csv"), images, labels, images_root=root / "data")
    assert report.errors == []
    return images, labels


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    images, labels = make_home(root, 20, seed=3)
    cfg = TrainConfig.from_overrides(TrainConfig(), TINY)
    data = build_dataset(labels, images, root / "dataset", ratios=cfg.ratios, classes=cfg.classes)
    rows: list[dict] = []
    result = adapter.train(cfg, data.data_yaml, root / "run", on_epoch=rows.append)
    return root, cfg, data, result, rows


@pytest.fixture(scope="module")
def package(world):
    root, cfg, data, result, _ = world
    hw = input_hw(*data.image_size, cfg.imgsz)
    return export_package(
        result.best,
        root / "package",
        input_hw=hw,
        classes=cfg.classes,
        calibration_images=evenly(data.images("train"), 4),
        test_images=data.images("test"),
        manifest_fields={
            "name": cfg.name,
            "training_config": cfg.model_dump(mode="json"),
            "dataset_snapshot": data.snapshot.model_dump(mode="json"),
            "label_store_version": data.snapshot.label_store_version,
            "metrics": {"mAP50": 0.0},
        },
    )


def test_training_leaves_weights_history_and_resolved_args(world):
    _, cfg, data, result, rows = world
    assert result.best.is_file() and result.last.is_file()
    assert len(result.history) == 1 and rows == result.history
    row = result.history[0]
    assert row["epoch"] == 1 and row["seconds"] > 0
    assert {"train/box_loss", "precision", "recall", "mAP50", "mAP50-95"} <= set(row)
    assert "mAP50" in result.final
    assert (result.run_dir / "args.yaml").is_file() and result.args["imgsz"] == 160
    assert result.args["plots"] is False and result.args["data"] == str(data.data_yaml.resolve())
    assert TrainConfig.from_file(result.run_dir / "train_config.yaml") == cfg


def test_package_is_verified_and_runs_at_the_rect_input_size(package, world):
    _, cfg, data, _, _ = world
    assert package.parity.ok and package.parity.compared > 0
    manifest = read_manifest(package.folder, verify=True)
    assert (manifest.input_height, manifest.input_width) == (128, 160)
    assert set(manifest.files) == {"model.onnx", "model.int8.onnx"} and manifest.classes == ["scratch"]
    assert manifest.label_store_version == data.snapshot.label_store_version
    assert manifest.dataset_snapshot["splits"]["test"] == list(data.snapshot.splits["test"])
    assert manifest.training_config["imgsz"] == 160
    assert package.int8_bytes < 0.5 * package.fp32_bytes
    for name in ("model.onnx", "model.int8.onnx"):
        session = ort.InferenceSession(str(package.folder / name), providers=["CPUExecutionProvider"])
        (inp,) = session.get_inputs()
        assert inp.shape == [1, 3, 128, 160]
        (out,) = session.run(None, {inp.name: np.zeros((1, 3, 128, 160), np.float32)})
        assert out.shape[:2] == (1, 4 + len(cfg.classes)) and np.isfinite(out).all()


def test_onnx_and_torch_predictions_agree_in_original_pixels(package, world):
    _, _, data, result, _ = world
    images = data.images("test")[:2]
    torch_dets = adapter.predict(result.best, images, imgsz=(128, 160), conf=0.001)
    onnx_dets = adapter.predict(package.fp32, images, imgsz=(128, 160), conf=0.001)
    assert [len(d) for d in torch_dets] == [len(d) for d in onnx_dets] and len(torch_dets[0]) > 0
    report = compare(torch_dets, onnx_dets, conf=0.002, iou_min=0.999, score_tol=1e-3)  # ties may reorder rows
    assert report.ok and report.compared > 0, report.failures
    for a in torch_dets:
        assert (a.xyxy[:, 2] <= 450.01).all() and (a.xyxy[:, 3] <= 300.01).all()  # original pixels, not input


def test_a_perturbed_onnx_fails_the_parity_check(package, world, tmp_path):
    _, _, data, result, _ = world
    model = onnx.load(str(package.fp32))
    for init in model.graph.initializer:  # shift the class-score branch's last biases
        if ".cv3." in init.name and init.name.endswith(".bias") and numpy_helper.to_array(init).ndim == 1:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) + 3.0, init.name))
    broken = tmp_path / "broken.onnx"
    onnx.save(model, str(broken))
    with pytest.raises(ParityError, match="does not reproduce"):
        verify_parity(result.best, broken, data.images("test"), input_hw=(128, 160))


def test_cli_runs_dataset_training_and_export(world, tmp_path):
    from qiloop.cli.train import train

    root = world[0]
    app = typer.Typer()
    app.command("train")(train)
    app.callback()(lambda: None)
    out = tmp_path / "run"
    base = ["train", "--home", str(root), "--json", *TINY, "export.int8=false"]
    # The default gate asks for mAP50 >= 0.5: a one-epoch model fails it, is not registered, exit 1.
    failed = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "failed")])
    assert failed.exit_code == 1, failed.output
    summary = json.loads(failed.stdout)
    assert summary["gate"]["passed"] is False and summary["registered"] is None
    assert summary["gate"]["reasons"]

    # Fine-tuning the shipped checkpoint finds scratches at its operating point: the gate lets it through.
    finder = ["model=builtin:synthetic-yolov8n.pt", "imgsz=320", "gate.min_map50=0", "gate.min_precision=0"]
    result = CliRunner().invoke(app, [*base, "--out", str(out), *finder, "gate.min_recall=0", "gate.approval=auto"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["registered"].endswith("/1")
    manifest = read_manifest(out / "package")
    assert set(manifest.files) == {"model.onnx"} and manifest.metrics.keys() >= {"mAP50", "mAP50-95"}
    assert (out / "dataset" / "dataset_card.json").is_file() and (out / "train" / "weights" / "best.pt").is_file()


def test_training_leaves_pillow_unpatched(world, tmp_path):
    """ultralytics patches Image.open to fetch a HEIF plugin; offline that broke every unreadable-image check."""
    from PIL import Image, UnidentifiedImageError

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(UnidentifiedImageError):
        Image.open(bad)


@pytest.mark.parametrize(("model", "error"), [("yolov99z.yaml", ConfigurationError), ("missing.pt", NotFoundError)])
def test_an_unknown_model_is_a_clear_error(world, tmp_path, model, error):
    _, cfg, data, _, _ = world
    with pytest.raises(error) as info:
        adapter.train(cfg.model_copy(update={"model": model}), data.data_yaml, tmp_path / "run")
    assert model in info.value.message and info.value.hint
