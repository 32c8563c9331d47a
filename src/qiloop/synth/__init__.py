"""Synthetic engraved metal tags with scratches: qiloop's out-of-the-box demo data.

``generate_dataset`` writes images and a reference ``labels.csv``;
``render_photo`` and ``render_crop`` give pixels, boxes and scratch masks in memory.
Needs NumPy and Pillow only.
"""

from qiloop.synth.dataset import SynthReport, generate_dataset, parse_size, photo_name, photo_rng
from qiloop.synth.render import POSITIONS, Crop, Photo, render_crop, render_photo

__all__ = [
    "POSITIONS",
    "Crop",
    "Photo",
    "SynthReport",
    "generate_dataset",
    "parse_size",
    "photo_name",
    "photo_rng",
    "render_crop",
    "render_photo",
]
