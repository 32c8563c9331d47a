"""Copy-paste of labelled scratches: the detail moves, the background stays, only the train split grows."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from qiloop.core.errors import ConfigurationError
from qiloop.training.config import TrainConfig
from qiloop.training.copy_paste import (
    PREFIX,
    add_pasted_copies,
    feather,
    overlaps,
    paste_scratches,
    read_boxes,
    transfer_detail,
)


def _tag(width: int = 160, height: int = 120, scratch: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A dark, even tag with one bright diagonal scratch inside ``scratch`` (x0, y0, x1, y1)."""
    pixels = np.full((height, width, 3), 60, np.uint8)
    if scratch:
        x0, y0, x1, y1 = scratch
        for t in np.linspace(0, 1, 200):
            pixels[round(y0 + 2 + t * (y1 - y0 - 5)), round(x0 + 2 + t * (x1 - x0 - 5))] = 230
    return pixels


def _dataset(tmp_path, n: int = 4):
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
    for i in range(n):
        Image.fromarray(_tag(scratch=(20, 20, 60, 50))).save(tmp_path / "images" / "train" / f"tag{i}.png")
        (tmp_path / "labels" / "train" / f"tag{i}.txt").write_text("0 0.25 0.291667 0.25 0.25\n")
    Image.fromarray(_tag(scratch=(20, 20, 60, 50))).save(tmp_path / "images" / "val" / "v.png")
    (tmp_path / "labels" / "val" / "v.txt").write_text("0 0.25 0.291667 0.25 0.25\n")
    return tmp_path


def test_detail_moves_and_background_level_stays():
    flat = np.full((30, 40, 3), 80.0, np.float32)
    line = np.full((30, 40, 3), 20.0, np.float32)  # a darker background: its level must not come along
    line[15, 5:35] = 220.0
    out = transfer_detail(flat, line, radius=2.0, edge=0.1)
    assert out[15, 20, 0] > 180  # the scratch arrives
    assert abs(float(np.median(out)) - 80.0) < 3  # the destination keeps its own brightness
    assert out.min() >= 0 and out.max() <= 255


def test_shapes_must_match():
    with pytest.raises(ValueError, match="differ in shape"):
        transfer_detail(np.zeros((4, 4, 3), np.float32), np.zeros((5, 4, 3), np.float32))


def test_feather_is_one_inside_and_falls_to_the_edges():
    w = feather(20, 10, edge=0.2)[..., 0]
    assert w[10, 5] == pytest.approx(1.0)
    assert w[0, 5] < 0.5 and w[10, 0] < 0.5


@pytest.mark.parametrize(
    ("box", "expected"),
    [((0, 0, 10, 10), True), ((10, 10, 20, 20), False), ((5, 12, 8, 30), False), ((9, 9, 11, 11), True)],
)
def test_overlaps(box, expected):
    assert overlaps(box, [(0, 0, 10, 10)]) is expected


def test_read_boxes_in_pixels(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("0 0.5 0.5 0.5 0.25\nnot a box\n")
    assert read_boxes(f, 100, 80) == [(0, (25, 30, 75, 50))]
    assert read_boxes(tmp_path / "missing.txt", 100, 80) == []


def test_pasted_images_carry_the_old_and_new_boxes_in_train_only(tmp_path):
    root = _dataset(tmp_path)
    written = add_pasted_copies(root, copies=1.0, per_image=2, seed=3)
    pasted = sorted((root / "images" / "train").glob(f"{PREFIX}*"))
    assert written == len(pasted) >= 3
    assert not list((root / "images" / "val").glob(f"{PREFIX}*"))
    for image in pasted:
        lines = (root / "labels" / "train" / f"{image.stem}.txt").read_text().splitlines()
        assert 2 <= len(lines) <= 3  # the base image's own box, then one or two pasted ones
        boxes = [box for _, box in read_boxes(root / "labels" / "train" / f"{image.stem}.txt", 160, 120)]
        assert all(not overlaps(b, boxes[:i] + boxes[i + 1 :]) for i, b in enumerate(boxes))
        pixels = np.asarray(Image.open(image).convert("L"), np.float32)
        x0, y0, x1, y1 = boxes[-1]
        assert pixels[y0:y1, x0:x1].max() > 150  # a scratch is really there


def test_same_seed_same_images(tmp_path):
    a, b = _dataset(tmp_path / "a"), _dataset(tmp_path / "b")
    add_pasted_copies(a, copies=0.5, seed=7)
    add_pasted_copies(b, copies=0.5, seed=7)
    names = sorted(p.name for p in (a / "labels" / "train").glob(f"{PREFIX}*"))
    assert names == sorted(p.name for p in (b / "labels" / "train").glob(f"{PREFIX}*"))
    assert all((a / "labels" / "train" / n).read_text() == (b / "labels" / "train" / n).read_text() for n in names)


def test_off_by_default_and_bad_values_refused(tmp_path):
    root = _dataset(tmp_path)
    assert paste_scratches(root, TrainConfig()) == 0
    assert paste_scratches(root, TrainConfig.from_overrides(TrainConfig(), ["paste.copies=0.5"])) == 2
    with pytest.raises(ConfigurationError):
        add_pasted_copies(root, copies=-1)
    with pytest.raises(ConfigurationError, match="not a dataset split folder"):
        add_pasted_copies(tmp_path / "nothing", copies=1)
