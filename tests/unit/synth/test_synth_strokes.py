import numpy as np
import pytest

from qiloop.synth.strokes import Stamp, composite, draw_polyline
from qiloop.synth.texture import gaussian_blur, sensor_noise, smooth_field, streaks


def line(x0, y0, x1, y1, width=3.0, value=1.0):
    return np.array([[x0, y0], [x1, y1]], float), np.full(2, width), np.full(2, value)


def test_a_horizontal_stroke_covers_its_rows_and_nothing_far_away():
    stamp = draw_polyline(*line(10, 20, 50, 20, width=4), shape=(40, 60))
    full = np.zeros((40, 60), np.float32)
    full[stamp.window] = stamp.alpha
    assert full[19:21, 15:45].min() > 0.95  # the core is fully covered
    assert full[:16].max() == 0 and full[25:].max() == 0  # nothing beyond the width
    assert abs(full[:, 30].sum() - 4) < 0.6  # anti-aliased coverage adds up to the width


def test_a_stroke_partly_outside_is_clipped_and_one_wholly_outside_is_none():
    stamp = draw_polyline(*line(-30, 5, 20, 5), shape=(20, 30))
    assert stamp.left == 0 and stamp.right <= 30 and stamp.alpha[:, 0].max() > 0.9
    assert draw_polyline(*line(-50, -50, -40, -40), shape=(20, 30)) is None


def test_zero_intensity_leaves_a_gap():
    pts = np.array([[5, 10], [25, 10], [45, 10], [65, 10]], float)
    stamp = draw_polyline(pts, np.full(4, 3.0), np.array([1, 1, 0, 0], float), shape=(20, 80))
    assert stamp.alpha[:, 10 - stamp.left].max() > 0.9
    assert stamp.alpha[:, 55 - stamp.left].max() == 0


def test_masked_and_composite_blend_towards_the_target():
    image = np.full((10, 10), 100.0, np.float32)
    stamp = Stamp(np.full((2, 2), 0.5, np.float32), top=3, left=4)
    cover = np.zeros((10, 10), np.float32)
    cover[:, 5:] = 1
    composite(image, stamp.masked(cover), 200.0)
    assert image[3, 4] == 100 and image[3, 5] == 150 and image[5, 5] == 100


def test_blur_keeps_a_flat_image_flat_and_spreads_a_point():
    flat = np.full((20, 30), 80.0, np.float32)
    assert np.allclose(gaussian_blur(flat, 1.5), 80.0)
    point = np.zeros((21, 21), np.float32)
    point[10, 10] = 1
    blurred = gaussian_blur(point, 1.0)
    assert abs(blurred.sum() - 1) < 1e-5 and blurred[10, 10] < 0.2 and blurred[10, 11] > 0.05


@pytest.mark.parametrize("make", [lambda r: smooth_field(r, (60, 90), (3, 4)), lambda r: streaks(r, (60, 90), 20)])
def test_random_fields_are_deterministic_and_of_unit_spread(make):
    a, b = make(np.random.default_rng(5)), make(np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == (60, 90)
    assert abs(float(a.std()) - 1) < 1e-3 and abs(float(a.mean())) < 1e-3


def test_streaks_run_along_rows():
    field = streaks(np.random.default_rng(1), (100, 200), 50)
    along = np.abs(np.diff(field, axis=1)).mean()
    across = np.abs(np.diff(field, axis=0)).mean()
    assert along < across / 5


def test_sensor_noise_has_the_asked_spread():
    noisy = sensor_noise(np.random.default_rng(0), np.full((200, 200), 128.0, np.float32), 3.0)
    assert 2.5 < float(noisy.std()) < 3.5 and abs(float(noisy.mean()) - 128) < 0.1
