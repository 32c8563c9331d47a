"""The image store: raw images, content-addressed, with metadata.

``ImageStore`` is the entry point; ``probe_image`` is the pure check every image
passes; ``fsspec_options`` / ``delta_options`` translate qiloop's storage options
for the two libraries that talk to S3. Names are loaded on first use, so importing
``qiloop.storage.backends`` alone pulls in neither Pillow nor delta-rs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ImageStore": "qiloop.storage.image_store",
    "IngestReport": "qiloop.storage.ingest",
    "ImageInfo": "qiloop.storage.probe",
    "probe_image": "qiloop.storage.probe",
    "group_of": "qiloop.storage.grouping",
    "fsspec_options": "qiloop.storage.backends",
    "delta_options": "qiloop.storage.backends",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qiloop.storage' has no attribute {name!r}")
