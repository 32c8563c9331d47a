"""The synthetic images' measurable look against the real photos (needs ../shared/data/metal-tags)."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qiloop.labelstore.formats import labels_csv
from qiloop.synth.dataset import iter_crops
from require_helpers import require

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "metal-tags"


def measure(image: Image.Image, boxes) -> tuple[float, float, list[float], list[float]]:
    """Metal tone in the middle, backdrop at the top corners, scratch peaks, box lengths."""
    g = np.asarray(image.convert("L"), dtype=float)
    h, w = g.shape
    metal = float(np.median(g[h // 3 : 2 * h // 3, w // 4 : 3 * w // 4]))
    corner = max(g[:12, :12].mean(), g[:12, -12:].mean())
    peaks = [float(np.percentile(g[int(b.top) : int(b.bottom), int(b.left) : int(b.right)], 99)) for b in boxes]
    return metal, corner, peaks, [max(b.width, b.height) for b in boxes]


def medians(items):
    return (
        np.median([i[0] for i in items]),
        np.median([i[1] for i in items]),
        np.median([p for i in items for p in i[2]]),
        np.median([s for i in items for s in i[3]]),
        sum(len(i[3]) for i in items) / len(items),
    )


@pytest.mark.realdata
def test_synthetic_crops_measure_like_the_real_photos():
    if not (DATA / "labels.csv").is_file():
        require("realdata", f"real data not found at {DATA.resolve()}")
    parsed = labels_csv.read(DATA / "labels.csv")
    real = []
    for d in parsed.drafts:
        with Image.open(labels_csv.map_prefix(d.image_ref, labels_csv.REFERENCE_PREFIX, DATA)) as image:
            real.append(measure(image, d.annotations))
    synthetic = []
    for _, _, crop, quality in iter_crops(0, 120):
        buf = io.BytesIO()
        Image.fromarray(crop.image).convert("RGB").save(buf, "JPEG", quality=quality)
        synthetic.append(measure(Image.open(buf), crop.boxes))
    r_metal, r_corner, r_peak, r_len, r_count = medians(real)
    s_metal, s_corner, s_peak, s_len, s_count = medians(synthetic)
    assert abs(s_metal - r_metal) < 15, (s_metal, r_metal)  # dark metal of the same tone
    assert s_corner > 200 and r_corner > 200  # a light backdrop
    assert abs(s_peak - r_peak) < 35, (s_peak, r_peak)  # scratches as bright
    assert 0.7 < s_len / r_len < 1.4, (s_len, r_len)  # and as long
    assert 0.6 < s_count / r_count < 1.4, (s_count, r_count)  # and as many per image
