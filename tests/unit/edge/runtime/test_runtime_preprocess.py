"""Letterbox geometry, bilinear resize and image decoding, against hand values and ultralytics."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from qiloop.core.errors import ImageRejectedError
from qiloop.edge.runtime.preprocess import as_rgb_array, letterbox, letterbox_geometry
from qiloop.edge.runtime.resize import resize_bilinear

cv2 = pytest.importorskip("cv2")


def image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("shape", "new_shape", "size", "pad"),
    [
        ((300, 450), (320, 448), (299, 448), (0, 10)),  # the metal-tag crops: 10 px above, 11 below
        ((300, 450), (64, 96), (64, 96), (0, 0)),  # same aspect ratio: no padding
        ((31, 17), (320, 448), (320, 175), (136, 0)),  # upscaled, odd padding 273 = 136 + 137
        ((1080, 1920), (320, 448), (252, 448), (0, 34)),
        ((477, 233), (320, 448), (320, 156), (146, 0)),
        ((1000, 3), (320, 448), (320, 1), (223, 0)),  # a sliver keeps one pixel
        ((320, 448), (320, 448), (320, 448), (0, 0)),
    ],
)
def test_letterbox_geometry(shape, new_shape, size, pad):
    g = letterbox_geometry(shape, new_shape)
    assert (g.size, g.pad) == (size, pad)
    assert g.ratio == (size[1] / shape[1], size[0] / shape[0])


@pytest.mark.parametrize(
    ("shape", "new_shape", "tolerance"),
    [
        ((300, 450), (320, 448), 0),
        ((300, 450), (64, 96), 0),
        ((1080, 1920), (320, 448), 0),
        ((477, 233), (320, 448), 0),
        ((31, 17), (320, 448), 1),  # upscaling: OpenCV's SIMD and scalar paths round differently
        ((217, 333), (320, 448), 1),
    ],
)
def test_letterbox_matches_ultralytics(shape, new_shape, tolerance):
    augment = pytest.importorskip("ultralytics.data.augment", reason="the reference letterbox is ultralytics'")
    LetterBox = augment.LetterBox

    rgb = image(*shape)
    tensor, ratio, pad = letterbox(rgb, new_shape)
    reference = LetterBox(new_shape, auto=False)(image=np.ascontiguousarray(rgb[..., ::-1]))[..., ::-1]
    ours = np.rint(tensor[0].transpose(1, 2, 0) * 255).astype(int)
    assert tensor.shape == (1, 3, *new_shape) and tensor.dtype == np.float32
    g = letterbox_geometry(shape, new_shape)
    assert (ratio, pad) == (g.ratio, g.pad)
    diff = np.abs(ours - reference.astype(int))
    assert diff.max() <= tolerance
    assert (diff > 0).mean() < 0.01


def test_padding_is_grey_114():
    tensor, _, pad = letterbox(image(300, 450), (320, 448))
    assert pad == (0, 10)
    assert np.allclose(tensor[0, :, :10, :], 114 / 255) and np.allclose(tensor[0, :, -11:, :], 114 / 255)
    assert not np.allclose(tensor[0, :, 10, :], 114 / 255)


@pytest.mark.parametrize(
    ("src", "dst"), [((300, 450), (299, 448)), ((1080, 1920), (252, 448)), ((40, 30), (7, 5)), ((300, 450), (64, 96))]
)
def test_downscale_is_bit_exact_with_opencv(src, dst):
    rgb = image(*src, seed=3)
    assert np.array_equal(
        resize_bilinear(rgb, dst, backend="numpy"), cv2.resize(rgb, dst[::-1], interpolation=cv2.INTER_LINEAR)
    )


@pytest.mark.parametrize(("src", "dst"), [((31, 17), (200, 111)), ((100, 100), (200, 200)), ((1, 1), (4, 4))])
def test_upscale_within_one_level_of_opencv(src, dst):
    rgb = image(*src, seed=4)
    diff = np.abs(resize_bilinear(rgb, dst, backend="numpy").astype(int) - cv2.resize(rgb, dst[::-1]).astype(int))
    assert diff.max() <= 1


def test_resize_keeps_a_constant_image_constant_and_reuses_plans():
    flat = np.full((300, 450, 3), 77, np.uint8)
    for _ in range(2):
        assert (resize_bilinear(flat, (299, 448), backend="numpy") == 77).all()
    with pytest.raises(ValueError, match="uint8"):
        resize_bilinear(flat.astype(np.float32), (10, 10))


def encoded(fmt: str, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image(30, 40)).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(lambda: encoded("PNG"), id="png-bytes"),
        pytest.param(lambda: encoded("JPEG"), id="jpeg-bytes"),
        pytest.param(lambda: encoded("PNG", "RGBA"), id="rgba-png"),
        pytest.param(lambda: encoded("PNG", "L"), id="grey-png"),
        pytest.param(lambda: Image.fromarray(image(30, 40)).convert("P"), id="palette-pil"),
        pytest.param(lambda: image(30, 40)[..., 0], id="grey-array"),
    ],
)
def test_any_source_becomes_rgb(source):
    rgb = as_rgb_array(source())
    assert rgb.shape == (30, 40, 3) and rgb.dtype == np.uint8


def test_files_are_read_from_paths(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(encoded("PNG"))
    assert np.array_equal(as_rgb_array(path), as_rgb_array(str(path)))


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        (b"not an image", "not a readable image"),
        (encoded("JPEG")[:200], "not a readable image"),  # truncated
        (np.zeros((4, 4, 3), np.float32), "uint8"),
        (np.zeros((4, 4, 4), np.uint8), "HxWx3"),
    ],
    ids=["garbage", "truncated", "float-array", "four-channels"],
)
def test_unreadable_input_is_rejected(source, fragment):
    with pytest.raises(ImageRejectedError, match=fragment):
        as_rgb_array(source)


@pytest.mark.parametrize("backend", ["auto", "opencv"])
def test_opencv_backend_gives_the_ports_pixels_into_a_view(backend):
    rgb = image(300, 450, seed=5)
    canvas = np.full((320, 448, 3), 114, np.uint8)
    resize_bilinear(rgb, (299, 448), out=canvas[10:309], backend=backend)
    assert np.array_equal(canvas[10:309], resize_bilinear(rgb, (299, 448), backend="numpy"))
    assert (canvas[:10] == 114).all() and (canvas[309:] == 114).all()


def test_unknown_or_missing_backend_is_refused(monkeypatch):

    rgb = image(30, 40, seed=6)
    with pytest.raises(ValueError, match="unknown resize backend"):
        resize_bilinear(rgb, (10, 10), backend="gpu")
    monkeypatch.setitem(sys.modules, "cv2", None)  # as on an edge install without the camera extra
    with pytest.raises(ValueError, match="qiloop\\[camera\\]"):
        resize_bilinear(rgb, (10, 10), backend="opencv")
    assert resize_bilinear(rgb, (10, 10)).shape == (10, 10, 3)  # auto falls back to the port


def test_auto_uses_opencv_only_when_the_process_already_loaded_it():
    code = (
        "import sys, numpy as np; from qiloop.edge.runtime.resize import resize_bilinear; "
        "resize_bilinear(np.zeros((30, 40, 3), np.uint8), (10, 10)); print('cv2' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
