"""Large JPEGs are decoded at a reduced scale straight from the DCT; the model input barely changes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from qiloop.edge.runtime import OnnxDetector
from qiloop.edge.runtime.preprocess import Letterboxer, letterbox, read_rgb


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    from onnx_models import random_photo

    return random_photo(seed, (h, w))


def encode(rgb: np.ndarray, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format=fmt, quality=95)
    return out.getvalue()


@pytest.mark.parametrize(
    ("shape", "fit", "decoded"),
    [
        ((1280, 1920), (320, 448), (320, 480)),  # 4x larger: 1/4 scale, still covering the input
        ((640, 960), (320, 448), (320, 480)),  # 2x: 1/2 scale
        ((600, 900), (320, 448), (300, 450)),  # 2x the letterboxed size (299 x 448): 1/2
        ((500, 750), (320, 448), (500, 750)),  # under 2x: full size
        ((300, 450), (320, 448), (300, 450)),  # the metal-tag crops: full size
        ((2560, 3840), (64, 96), (320, 480)),  # 1/8 at most
    ],
)
def test_a_jpeg_is_decoded_at_the_largest_reduction_that_still_covers_the_input(shape, fit, decoded):
    rgb, original = read_rgb(encode(photo(*shape)), fit)
    assert original == shape and rgb.shape == (*decoded, 3)


def test_other_formats_and_arrays_are_not_reduced():
    big = photo(1280, 1920)
    assert read_rgb(encode(big, "PNG"), (320, 448))[0].shape == big.shape
    assert read_rgb(big, (320, 448))[0] is big
    assert read_rgb(encode(big))[0].shape == big.shape  # no fit: full size


@pytest.mark.parametrize("shape", [(1280, 1920), (1080, 1920), (2000, 1500)])
def test_the_reduced_decode_gives_nearly_the_same_model_input(shape):
    data = encode(photo(*shape, seed=3))
    full, ratio, pad = letterbox(data, (320, 448))
    rgb, original = read_rgb(data, (320, 448))
    reduced, box = Letterboxer((320, 448))(rgb, original)
    assert (box.ratio, box.pad) == (ratio, pad)  # boxes map back through the original's letterbox
    diff = np.abs(reduced - full) * 255
    # The photo carries pixel noise (sigma 6) that the block average smooths and bilinear sampling keeps.
    assert diff.mean() < 3.0 and np.percentile(diff, 99) < 12, (diff.mean(), np.percentile(diff, 99))


def test_detections_on_a_large_jpeg_agree_with_the_full_decode(tiny_package):
    data = encode(photo(768, 1152, seed=5))
    fast = OnnxDetector.from_package(tiny_package, threads=1, draft_decode=True)
    full = OnnxDetector.from_package(tiny_package, threads=1)
    assert not full.draft_decode  # off unless asked for
    a, b = fast.detect(data, confidence=0.05), full.detect(data, confidence=0.05)
    assert len(b) > 0, "the tiny model should score some anchors above 0.05"
    assert abs(len(a) - len(b)) <= max(1, len(b) // 5)
    assert abs(a.scores.max() - b.scores.max()) < 0.05
    assert a.xyxy[:, [0, 2]].max() <= 1152 and a.xyxy[:, [1, 3]].max() <= 768
    # The best boxes lie in the same place (in original pixels, a few percent of the side).
    assert np.abs(a.xyxy[0] - b.xyxy[0]).max() < 0.05 * 1152


def test_a_jpeg_too_small_to_reduce_decodes_exactly_as_without_fit():
    data = encode(photo(300, 450, seed=7))
    assert np.array_equal(read_rgb(data, (320, 448))[0], read_rgb(data)[0])
