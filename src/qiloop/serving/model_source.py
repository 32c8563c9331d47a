"""Where the served model comes from: a package folder, or a version in the model registry.

A source answers two questions: which release should run now (:meth:`latest`,
cheap, asked on every poll) and where its package lies on disk (:meth:`fetch`,
which downloads it when needed). A registry reference such as
``scratch-detector@production`` follows the alias; its packages are cached
under ``<home>/serving/models/<name>/<version>`` and verified before reuse.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qiloop.core.errors import InvalidRecordError, NotFoundError
from qiloop.core.package import MANIFEST, read_manifest


@dataclass(frozen=True)
class Release:
    """One servable model version.

    Attributes:
        name: Model name (registry name, else the manifest's).
        version: Version string (registry version, else the manifest's).
        key: What identifies the release; a new key means a new model to load.
        origin: Where it comes from, for reports (a folder or a registry reference).
    """

    name: str
    version: str
    key: str
    origin: str


class ModelSource(Protocol):
    def latest(self) -> Release: ...

    def fetch(self, release: Release) -> Path: ...


class PackageSource:
    """A model package folder; a new package copied into it is a new release."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def latest(self) -> Release:
        """The package now in the folder.

        The key digests the manifest and the size and modification time of each file,
        so a package caught half-copied (refused at load) is tried again once the copy
        has finished, without hashing the models on every poll.
        """
        manifest = read_manifest(self.folder, verify=False)
        digest = hashlib.sha256((self.folder / MANIFEST).read_bytes())
        for name in sorted(manifest.files):
            path = self.folder / name
            stat = path.stat() if path.is_file() else None
            digest.update(f"{name}:{stat and stat.st_size}:{stat and stat.st_mtime_ns}".encode())
        return Release(manifest.name, manifest.version, key=digest.hexdigest(), origin=str(self.folder))

    def fetch(self, release: Release) -> Path:
        return self.folder


class RegistrySource:
    """A registry reference (``name@alias``, ``name/3``), resolved on every poll.

    Args:
        registry: A ``qiloop.registry.ModelRegistry``.
        ref: The reference text; a bare name means its ``production`` version.
        cache: Folder for downloaded packages, one sub-folder per name and version.
    """

    def __init__(self, registry, ref: str, cache: Path) -> None:
        self.registry = registry
        self.ref = ref
        self.cache = Path(cache)

    def latest(self) -> Release:
        version = self.registry.approved(self.ref)  # an alias moved outside qiloop is refused
        return Release(version.name, str(version.version), key=version.ref, origin=self.ref)

    def fetch(self, release: Release) -> Path:
        """The verified package of ``release``, downloaded unless a verified copy is cached."""
        dest = self.cache / release.name / release.version
        if dest.exists():
            try:
                expected = self.registry.get(release.key).files
                if dict(read_manifest(dest, verify=True).files) == expected:
                    return dest
            except (NotFoundError, InvalidRecordError):
                pass
            shutil.rmtree(dest)  # a partial or altered copy: download it again
        return self.registry.download(release.key, dest)


def open_source(model: str, settings) -> ModelSource:
    """The source ``--model`` names: an existing package folder, else a registry reference.

    Raises:
        NotFoundError: ``model`` looks like a path (``./``, ``/``, ``~``) but no folder is there.
        ConfigurationError: It is neither a folder nor a valid registry reference.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return PackageSource(path)
    if model.startswith((".", "/", "~")):
        raise NotFoundError(
            f"no model package folder at {model}",
            hint="give a package folder (with manifest.json) or a registry reference like scratch-detector@production",
        )
    from qiloop.registry import DEFAULT_MODEL_NAME, ModelRegistry, parse_ref

    parse_ref(model, DEFAULT_MODEL_NAME)  # fail early on a malformed reference
    registry = ModelRegistry.from_settings(settings)
    return RegistrySource(registry, model, Path(settings.home) / "serving" / "models")
