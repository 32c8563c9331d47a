"""Where a device downloads what a deployment names, from the controller's file server.

``GET <base>/v1/components/<name>/<version>`` returns the component document and
``GET <base>/v1/files/<sha256>`` a file, by content.
"""

from __future__ import annotations


def component_url(base: str, name: str, version: str) -> str:
    return f"{base.rstrip('/')}/v1/components/{name}/{version}"


def file_url(base: str, sha256: str) -> str:
    return f"{base.rstrip('/')}/v1/files/{sha256}"
