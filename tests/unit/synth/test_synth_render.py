import numpy as np
import pytest

from qiloop.synth import POSITIONS, Photo, photo_rng, render_crop, render_photo
from qiloop.synth.scratches import ALPHA_VISIBLE
from qiloop.synth.strokes import draw_polyline


def photos(count, size=(450, 300), **kwargs):
    return [render_photo(photo_rng(11, k), size, **kwargs) for k in range(count)]


@pytest.fixture(scope="module")
def clean_photos():
    return photos(6, clean=True, good=False)


def test_the_same_generator_state_gives_the_same_photo():
    a, b = render_photo(photo_rng(4, 2)), render_photo(photo_rng(4, 2))
    assert np.array_equal(a.image, b.image)
    assert [c.boxes for c in a.crops()] == [c.boxes for c in b.crops()]
    assert not np.array_equal(a.image, render_photo(photo_rng(4, 3)).image)


def test_a_photo_is_twice_the_crop_size_and_cuts_into_four_named_quarters():
    photo = render_photo(photo_rng(0, 0), (200, 120))
    assert photo.image.shape == (240, 400) and photo.image.dtype == np.uint8
    crops = photo.crops()
    assert [c.position for c in crops] == list(POSITIONS)
    assert all(c.image.shape == (120, 200) for c in crops)
    assert np.array_equal(crops[3].image, photo.image[120:, 200:])


def test_boxes_are_inside_their_crop_and_not_degenerate(clean_photos):
    boxes = [b for p in clean_photos for c in p.crops() for b in c.boxes]
    assert len(boxes) >= 12
    for b in boxes:
        assert b.fits(450, 300) and b.left >= 0 and b.top >= 0
        assert min(b.width, b.height) >= 4 and max(b.width, b.height) >= 8
        assert b.class_id == 0 and float(b.left).is_integer()


def test_every_labelled_scratch_pixel_lies_in_a_box(clean_photos):
    for photo in clean_photos:
        for crop in photo.crops():
            inside = np.zeros(crop.mask.shape, bool)
            for b in crop.boxes:
                inside[int(b.top) : int(b.bottom), int(b.left) : int(b.right)] = True
            assert not (crop.mask >= ALPHA_VISIBLE)[~inside].any()
            assert (crop.mask >= ALPHA_VISIBLE).any() == bool(crop.boxes)


def test_each_box_is_brighter_than_the_bare_metal_and_touches_its_scratch(clean_photos):
    for photo in clean_photos:
        for crop in photo.crops():
            image = crop.image.astype(float)
            metal = (crop.metal > 0.99) & (crop.mask == 0)
            for b in crop.boxes:
                rows, cols = slice(int(b.top), int(b.bottom)), slice(int(b.left), int(b.right))
                scratch = crop.mask[rows, cols] >= ALPHA_VISIBLE
                sides = [scratch[0].any(), scratch[-1].any(), scratch[:, 0].any(), scratch[:, -1].any()]
                assert all(sides) or min(b.width, b.height) == 4  # a widened thin box may touch two sides
                assert image[rows, cols][scratch].mean() > image[metal].mean() + 40


def test_clean_and_noisy_renders_show_the_same_scene():
    clean, noisy = render_photo(photo_rng(5, 0), clean=True), render_photo(photo_rng(5, 0))
    assert [c.boxes for c in clean.crops()] == [c.boxes for c in noisy.crops()]
    diff = np.abs(clean.image.astype(int) - noisy.image.astype(int))
    assert 0.5 < diff.mean() < 8  # blur and noise, nothing more


def test_a_good_photo_has_no_scratch_and_looks_like_a_dark_tag_on_a_light_backdrop():
    photo = render_photo(photo_rng(0, 1), good=True)
    assert all(not c.boxes and not c.mask.any() for c in photo.crops())
    metal = photo.metal > 0.99
    assert 60 < photo.image[metal].mean() < 130
    assert photo.image[photo.metal < 0.01].mean() > 190
    for crop in photo.crops():  # the punched hole shows the backdrop near the top-left corner
        assert crop.metal[: crop.metal.shape[0] // 3, : crop.metal.shape[1] // 5].min() < 0.01


def test_about_a_quarter_of_crops_have_no_scratch():
    crops = [c for p in photos(24) for c in p.crops()]
    share = sum(not c.boxes for c in crops) / len(crops)
    boxes = sum(len(c.boxes) for c in crops) / len(crops)
    assert 0.12 < share < 0.4 and 1.2 < boxes < 3


def test_small_crop_sizes_scale_the_scene():
    crop = render_crop(photo_rng(2, 0), (96, 64), "right-bottom", good=False, clean=True)
    assert crop.image.shape == (64, 96) and crop.position == "right-bottom"
    assert all(b.fits(96, 64) for b in crop.boxes)


def test_render_crop_rejects_an_unknown_position():
    with pytest.raises(ValueError, match="left-top"):
        render_crop(photo_rng(0, 0), position="middle")


def test_a_scratch_across_a_crop_edge_gives_a_clipped_box_in_each_crop():
    shape = (120, 200)  # crops of 100x60
    stamp = draw_polyline(np.array([[70.0, 30.0], [150.0, 30.0]]), np.full(2, 3.0), np.ones(2), shape)
    photo = Photo(np.zeros(shape, np.uint8), (stamp,), np.ones(shape, np.float32), (), (100, 60), 90)
    left, right, lower_left, lower_right = photo.crops()
    assert len(left.boxes) == len(right.boxes) == 1 and not lower_left.boxes and not lower_right.boxes
    (a,), (b,) = left.boxes, right.boxes
    assert a.right == 100 and 68 <= a.left <= 70 and b.left == 0 and 50 <= b.right <= 52
    assert a.top == b.top and a.height == b.height >= 3
