"""The HTTP inference endpoint: the registry's approved model behind FastAPI, on the edge runtime.

It runs the device's own :class:`~qiloop.edge.runtime.OnnxDetector` (no second
copy of pre- or post-processing), follows a registry alias and swaps to a newly
approved version without dropping requests, and exposes Prometheus metrics.

Importing this package stays light; FastAPI loads with :mod:`qiloop.serving.app`.

Example:
    >>> from qiloop.serving import ModelHolder, ServeOptions, open_source  # doctest: +SKIP
    >>> from qiloop.serving.app import create_app
    >>> holder = ModelHolder(open_source("scratch-detector@production", settings), sessions=2,
    ...                      threads=1, int8=False, poll_s=10)
    >>> holder.refresh()
    >>> app = create_app(holder, ServeOptions())
"""

from qiloop.serving.holder import ModelHolder
from qiloop.serving.loaded import LoadedModel
from qiloop.serving.model_source import ModelSource, PackageSource, RegistrySource, Release, open_source
from qiloop.serving.options import ServeOptions

__all__ = [
    "LoadedModel",
    "ModelHolder",
    "ModelSource",
    "PackageSource",
    "RegistrySource",
    "Release",
    "ServeOptions",
    "open_source",
]
