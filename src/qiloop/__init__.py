"""qiloop: the machine-learning loop for visual quality inspection at the edge."""

__version__ = "0.1.0"
