"""The component store: component documents and their files, content-addressed.

Layout under its root (a folder or any fsspec URL)::

    blobs/<sha[:2]>/<sha256>              every file, named by its content
    components/<name>/<version>.json      the component document

A file shared by two versions (the same inference code, an unchanged
``model.int8.onnx``) is stored once. Versions are immutable: publishing a name
and version again with other content is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from qiloop.core.components import Component, ComponentFile, ComponentKind, Lifecycle
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.core.versions import Version
from qiloop.storage.blobs import BlobStore


def file_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


def _doc_key(name: str, version: str) -> str:
    return f"components/{name}/{Version(version)}.json"


class ComponentStore:
    """Publishes and serves components.

    Example:
        >>> store = ComponentStore.from_url("/tmp/components")  # doctest: +SKIP
        >>> store.publish("scratch-model", "3", "model", {"model.onnx": Path("pkg/model.onnx")})  # doctest: +SKIP
    """

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    @classmethod
    def from_url(cls, url: str | Path, storage_options: dict[str, str] | None = None) -> ComponentStore:
        return cls(BlobStore.from_url(str(url), storage_options))

    @classmethod
    def from_settings(cls, settings) -> ComponentStore:
        """The fleet's store: ``component_store_url`` (a folder or ``s3://``), by default ``<home>/components``."""
        url = settings.component_store_url or str(settings.home / "components")
        return cls.from_url(url, settings.storage_options(url) or None)

    @property
    def url(self) -> str:
        return self._blobs.root_url

    def publish(
        self,
        name: str,
        version: str,
        kind: ComponentKind | str,
        files: Mapping[str, Path | bytes],
        *,
        lifecycle: Lifecycle | None = None,
        dependencies: Mapping[str, str] | None = None,
        description: str = "",
    ) -> Component:
        """Store the files (those not already present) and the document; return the component.

        Publishing the same content again returns the stored component unchanged.

        Raises:
            ConfigurationError: ``name``/``version`` exists with other files or settings.
        """
        entries, payloads = [], {}
        for file_name, source in sorted(files.items()):
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            entries.append(ComponentFile(name=file_name, sha256=sha, size=len(data)))
            payloads[sha] = data
        component = Component(
            name=name, version=version, kind=kind, files=entries, lifecycle=lifecycle or Lifecycle(),
            dependencies=dict(dependencies or {}), description=description,
        )  # fmt: skip
        existing = self.find(name, component.version)
        if existing is not None:
            if _content(existing) != _content(component):
                raise ConfigurationError(
                    f"component {component.key} is already published with other content",
                    hint="versions are immutable: publish a new version",
                )
            return existing
        for sha, data in payloads.items():
            self._blobs.write(file_key(sha), data)
        self._blobs.write(_doc_key(name, component.version), component.model_dump_json(indent=2).encode())
        return component

    def find(self, name: str, version: str) -> Component | None:
        key = _doc_key(name, version)
        if not self._blobs.exists(key):
            return None
        return Component.model_validate_json(self._blobs.read(key))

    def get(self, name: str, version: str) -> Component:
        component = self.find(name, version)
        if component is None:
            known = ", ".join(self.versions(name)) or "none"
            raise NotFoundError(f"no component {name}/{version} (published versions: {known})")
        return component

    def versions(self, name: str) -> list[str]:
        """Published versions of ``name``, oldest first."""
        folder = self._blobs.path(f"components/{name}")
        try:
            paths = self._blobs.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return []
        found = [Path(p).name.removesuffix(".json") for p in paths if str(p).endswith(".json")]
        return [str(v) for v in sorted(Version(v) for v in found)]

    def latest(self, name: str) -> Component | None:
        versions = self.versions(name)
        return self.get(name, versions[-1]) if versions else None

    def has_file(self, sha256: str) -> bool:
        return self._blobs.exists(file_key(sha256))

    def read_file(self, sha256: str) -> bytes:
        return self._blobs.read(file_key(sha256))

    def presigned_url(self, sha256: str, expires_s: float) -> str | None:
        """A URL that reads the file without credentials for ``expires_s`` seconds (S3 and other
        object stores that sign URLs), or None where the store cannot sign (a folder)."""
        if self._blobs.local:
            return None
        try:
            return self._blobs.fs.sign(self._blobs.path(file_key(sha256)), expiration=max(1, int(expires_s)))
        except NotImplementedError:
            return None

    def local_file(self, sha256: str) -> Path | None:
        """The file's local path when the store is a folder (for streaming it over HTTP)."""
        path = Path(self._blobs.path(file_key(sha256)))
        return path if self._blobs.local and path.is_file() else None


def _content(component: Component) -> str:
    return json.dumps(component.model_dump(mode="json", exclude={"created_at"}), sort_keys=True)
