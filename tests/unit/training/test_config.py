"""TrainConfig: one object from Python, files, profiles and key=value overrides."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.training.config import TrainConfig


def test_defaults_are_the_documented_ones():
    cfg = TrainConfig()
    assert (cfg.model, cfg.imgsz, cfg.device, cfg.classes) == ("yolov8n.yaml", 448, "cpu", ["scratch"])
    assert cfg.ratios == {"train": 0.8, "val": 0.1, "test": 0.1}


def test_file_round_trip(tmp_path):
    cfg = TrainConfig.from_overrides(
        TrainConfig(), ["epochs=3", "augment.mosaic=0.5", "as_of=2024-05-01T12:00:00Z", "classes=[scratch, dent]"]
    )
    path = cfg.save(tmp_path / "train.yaml")
    again = TrainConfig.from_file(path)
    assert again == cfg
    assert again.as_of == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert again.to_yaml() == cfg.to_yaml()


def test_a_partial_file_keeps_the_base_values(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("epochs: 7\naugment:\n  fliplr: 0.0\n")
    cfg = TrainConfig.from_file(path, base=TrainConfig.profile("quick"))
    quick = TrainConfig.profile("quick")
    assert (cfg.epochs, cfg.augment.fliplr) == (7, 0.0)
    assert (cfg.imgsz, cfg.augment.close_mosaic) == (quick.imgsz, quick.augment.close_mosaic)


@pytest.mark.parametrize(
    ("override", "path", "value"),
    [
        ("epochs=3", ("epochs",), 3),
        ("imgsz=320", ("imgsz",), 320),
        ("augment.mosaic=0", ("augment", "mosaic"), 0.0),
        ("export.int8=false", ("export", "int8"), False),
        ("ratios.train=0.7", ("ratios",), {"train": 0.7, "val": 0.1, "test": 0.1}),
        ("as_of=3", ("as_of",), 3),
        ("model=runs/best.pt", ("model",), "runs/best.pt"),
        ("device=auto", ("device",), "auto"),
    ],
)
def test_overrides_parse_yaml_scalars(override, path, value):
    if override.startswith("ratios"):  # the shares must still sum to 1
        cfg = TrainConfig.from_overrides(TrainConfig(), [override, "ratios.val=0.1", "ratios.test=0.2"])
        value = {"train": 0.7, "val": 0.1, "test": 0.2}
    else:
        cfg = TrainConfig.from_overrides(TrainConfig(), [override])
    got = cfg
    for part in path:
        got = getattr(got, part)
    assert got == value


@pytest.mark.parametrize(
    ("override", "named", "listed"),
    [
        ("epoch=3", "'epoch'", "epochs"),
        ("augment.mosiac=0", "'augment.mosiac'", "mosaic"),
        ("export.bits=8", "'export.bits'", "calibration_images"),
        ("epochs.max=3", "'epochs'", "epochs=VALUE"),
    ],
)
def test_unknown_keys_are_named_with_the_valid_ones(override, named, listed):
    with pytest.raises(ConfigurationError) as info:
        TrainConfig.from_overrides(TrainConfig(), [override])
    assert named in info.value.message
    assert listed in (info.value.hint or "")


def test_unknown_key_in_a_file_is_named(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("epochs: 3\naugment:\n  mosiac: 0\n")
    with pytest.raises(ConfigurationError) as info:
        TrainConfig.from_file(path)
    assert "'augment.mosiac'" in info.value.message and "did you mean 'mosaic'" in info.value.message
    assert "close_mosaic" in info.value.hint


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("epochs=0", "epochs"),
        ("device=gpu", "device"),
        ("model=yolov8n.onnx", "model"),
        ("augment.fliplr=2", "augment.fliplr"),
        ("classes=[]", "classes"),
        ("ratios={train: 1.0}", "ratios"),
    ],
)
def test_bad_values_name_the_field(override, field):
    with pytest.raises(ConfigurationError) as info:
        TrainConfig.from_overrides(TrainConfig(), [override])
    assert field in info.value.message


@pytest.mark.parametrize("bad", ["epochs", "=3", "augment.mosaic=[unclosed"])
def test_malformed_overrides_are_refused(bad):
    with pytest.raises(ConfigurationError):
        TrainConfig.from_overrides(TrainConfig(), [bad])


def test_profiles():
    quick, default = TrainConfig.profile("quick"), TrainConfig.profile("default")
    # The default profile is the real-photo recipe, not the bare field defaults.
    assert (default.batch, default.nbs, default.cos_lr, default.augment.flipud) == (8, 8, True, 0.5)
    assert default.model == quick.model == "builtin:synthetic-yolov8n.pt"
    assert quick.epochs < default.epochs and quick.imgsz < default.imgsz
    with pytest.raises(ConfigurationError, match="unknown training profile") as info:
        TrainConfig.profile("fast")
    assert "quick" in info.value.hint


def test_resolve_layers_profile_file_and_overrides(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("epochs: 5\nbatch: 4\n")
    cfg = TrainConfig.resolve(profile="quick", path=path, overrides=["batch=2"])
    assert (cfg.imgsz, cfg.epochs, cfg.batch) == (TrainConfig.profile("quick").imgsz, 5, 2)


def test_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("- epochs\n")
    with pytest.raises(ConfigurationError, match="mapping"):
        TrainConfig.from_file(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        TrainConfig.from_file(tmp_path / "missing.yaml")
