"""Training: dataset build, the ultralytics adapter, export to a model package.

Importing this package loads no framework: ultralytics and torch are imported
inside :mod:`qiloop.training.ultralytics_adapter`'s functions, ONNX Runtime
inside :mod:`qiloop.training.quantize` and :mod:`qiloop.training.export`.
"""

from qiloop.training.config import AugmentConfig, ExportConfig, TrainConfig
from qiloop.training.shapes import input_hw

__all__ = ["AugmentConfig", "ExportConfig", "TrainConfig", "input_hw"]
