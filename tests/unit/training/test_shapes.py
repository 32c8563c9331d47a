"""input_hw: the long side is imgsz, the short side follows the images, both multiples of the stride."""

import pytest

from qiloop.core.errors import ConfigurationError
from qiloop.training.shapes import input_hw


@pytest.mark.parametrize(
    ("width", "height", "imgsz", "stride", "expected"),
    [
        (450, 300, 448, 32, (320, 448)),  # the metal tags: 448 x 298.7 fits in 448 x 320
        (300, 450, 448, 32, (448, 320)),  # portrait
        (450, 300, 320, 32, (224, 320)),
        (450, 300, 160, 32, (128, 160)),
        (450, 300, 640, 32, (448, 640)),  # 426.7 -> 448
        (640, 480, 640, 32, (480, 640)),  # exact multiple stays
        (500, 500, 448, 32, (448, 448)),  # square
        (1000, 10, 320, 32, (32, 320)),  # never below one stride
        (450, 300, 450, 32, (320, 480)),  # imgsz rounded up to the stride
        (450, 300, 448, 64, (320, 448)),
    ],
)
def test_input_hw(width, height, imgsz, stride, expected):
    h, w = input_hw(width, height, imgsz, stride)
    assert (h, w) == expected
    assert h % stride == 0 and w % stride == 0
    scale = min(h / height, w / width)
    assert round(height * scale) <= h and round(width * scale) <= w  # the letterboxed image fits


@pytest.mark.parametrize("args", [(0, 300, 448), (450, 300, 0), (450, -1, 448)])
def test_bad_sizes(args):
    with pytest.raises(ConfigurationError):
        input_hw(*args)
