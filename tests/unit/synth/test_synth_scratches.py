import math

import numpy as np
import pytest

from qiloop.synth.scene import sample_tag
from qiloop.synth.scratches import MIN_SIDE, curved_path, sample_scratch, stamp_box, visible
from qiloop.synth.strokes import Stamp


def stamp_with(pixels, shape=(30, 40), top=5, left=7):
    alpha = np.zeros(shape, np.float32)
    for r, c in pixels:
        alpha[r, c] = 1.0
    return Stamp(alpha, top, left)


DIAGONAL = [(i, i) for i in range(2, 22)]  # 20 px, rows/cols 2..21 of the window


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ((0, 0, 100, 100), (9, 7, 29, 27)),  # window (7, 5) + pixels 2..21
        ((14, 0, 100, 100), (0, 12, 15, 27)),  # clipped on the left: region pixels only
        ((0, 14, 100, 100), (16, 0, 29, 13)),  # clipped on top
        ((0, 0, 15, 15), None),  # too few pixels left in the region
        ((20, 0, 100, 100), None),  # 9 pixels left: below MIN_PIXELS
        ((50, 50, 90, 90), None),  # no overlap at all
    ],
)
def test_stamp_box_is_tight_and_clipped_to_the_region(region, expected):
    box = stamp_box(stamp_with(DIAGONAL), region)
    assert (box.xyxy if box else None) == expected


def test_a_thin_straight_scratch_gets_a_box_at_least_min_side_high():
    box = stamp_box(stamp_with([(10, c) for c in range(2, 30)]), (0, 0, 100, 100))
    assert box.height == MIN_SIDE and box.width == 28 and 13 <= box.top <= 15


def test_a_thin_box_at_the_region_edge_stays_inside():
    box = stamp_box(stamp_with([(0, c) for c in range(2, 30)], top=0), (0, 0, 100, 100))
    assert box.top == 0 and box.height == MIN_SIDE


def test_faint_pixels_do_not_count():
    stamp = stamp_with(DIAGONAL)
    faint = Stamp(stamp.alpha * 0.2, stamp.top, stamp.left)
    assert stamp_box(faint, (0, 0, 100, 100)) is None


def test_curved_path_has_its_length_and_centre():
    rng = np.random.default_rng(0)
    pts = curved_path(rng, (50.0, 40.0), 100.0, 0.3, 0.0, wobble=0.0)
    assert np.allclose(pts[len(pts) // 2], (50, 40))
    assert abs(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum() - 100) < 1e-6
    assert abs(math.atan2(*(pts[-1] - pts[0])[::-1]) - 0.3) < 1e-9  # straight when curvature is 0


def test_sampled_scratches_stay_on_their_tag_and_are_visible():
    rng = np.random.default_rng(3)
    tag = sample_tag(rng, (0, 0, 450, 300))
    x0, _, x1, _ = tag.area
    for _ in range(50):
        s = sample_scratch(rng, tag, 1.0)
        assert len(s.points) == len(s.widths) == len(s.values)
        inside = (s.points[:, 0] >= x0 - 1e-6) & (s.points[:, 0] <= x1 + 1e-6)
        assert inside.all() or np.ptp(s.points[:, 0]) > x1 - x0
        assert s.brightness > tag.level + 50 and s.widths.max() > 0.5


def test_visible_refuses_scratches_mostly_off_the_metal():
    stamp = stamp_with(DIAGONAL)
    off = Stamp(stamp.alpha * 0, stamp.top, stamp.left)
    assert visible(stamp, stamp) and not visible(stamp, off)
