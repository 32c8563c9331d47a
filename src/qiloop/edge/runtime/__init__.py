"""On-device inference: a model package, ONNX Runtime, and NumPy pre/post-processing.

Imports NumPy, Pillow and ``qiloop.core`` only; ONNX Runtime loads when a
detector is built from a package.
"""

from qiloop.edge.runtime.detector import OnnxDetector
from qiloop.edge.runtime.postprocess import decode, unletterbox, xywh_to_xyxy
from qiloop.edge.runtime.preprocess import Letterbox, as_rgb_array, letterbox, letterbox_geometry
from qiloop.edge.runtime.resize import resize_bilinear

__all__ = [
    "Letterbox",
    "OnnxDetector",
    "as_rgb_array",
    "decode",
    "letterbox",
    "letterbox_geometry",
    "resize_bilinear",
    "unletterbox",
    "xywh_to_xyxy",
]
