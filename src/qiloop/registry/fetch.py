"""Download a registered model package and prove it is the one that was registered."""

from __future__ import annotations

import tempfile
from pathlib import Path

from qiloop.core.errors import ConfigurationError, StoreError
from qiloop.core.models import ModelVersion
from qiloop.core.package import MANIFEST, read_manifest
from qiloop.registry.backend import load_mlflow


def fetch_package(version: ModelVersion, dest: Path, tracking_uri: str) -> Path:
    """Download ``version``'s package into the new (or empty) folder ``dest`` and verify it.

    The files are checked against the manifest and against the sha256 recorded
    at registration, so a package altered in the artefact store (even with a
    matching manifest) is refused. The download goes to a temporary folder
    beside ``dest`` and is renamed into place only when it is verified: on any
    failure nothing is left at ``dest``.

    Raises:
        ConfigurationError: ``dest`` exists and holds files.
        StoreError: The artefacts cannot be read, or differ from those registered.
        NotFoundError, InvalidRecordError: The downloaded folder is not an intact package.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigurationError(f"{dest} already exists and is not empty", hint="give a new folder for the package")
    dest.parent.mkdir(parents=True, exist_ok=True)
    mlflow = load_mlflow()
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".qiloop-download-") as tmp:
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=version.source, dst_path=tmp, tracking_uri=tracking_uri
                )
            )
        except Exception as exc:
            raise StoreError(
                f"cannot download {version.ref} from {version.source}: {exc}",
                hint="check that the artefact store is reachable and the run's artefacts were not deleted",
            ) from exc
        manifest = read_manifest(local)
        if version.files and dict(manifest.files) != version.files:
            raise StoreError(
                f"the package of {version.ref} differs from the one registered (sha256 mismatch)",
                hint="the artefact store was altered; register the model again from its run",
            )
        if manifest.version != str(version.version):
            # Training writes the package before the registry numbers it; the copy a device
            # or the endpoint runs says which version it is (manifest.json is not hashed).
            stamped = manifest.model_copy(update={"version": str(version.version)})
            (local / MANIFEST).write_text(stamped.model_dump_json(indent=2))
        if dest.exists():
            dest.rmdir()
        local.rename(dest)
    return dest
