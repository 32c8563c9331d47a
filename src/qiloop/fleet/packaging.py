"""Build the two kinds of component: a model from a model package, the inference code from source.

Model and code are separate components, so a new model does not resend the code and a
code change does not resend the model. The inference component is a zip of the part of
qiloop's pure-Python source a device runs (``core``, ``protocol``, ``edge``: no training,
labelling, registry or CLI), built byte-for-byte reproducibly (sorted entries, fixed
times), so unchanged code gives the same sha256 and is never published or transferred twice.
The device's third-party packages (``qiloop[edge]``) are installed once, not shipped.
"""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from pathlib import Path

import qiloop
from qiloop.core.components import SETTINGS_ARG, Component, ComponentKind, Lifecycle
from qiloop.core.errors import ConfigurationError
from qiloop.core.package import MANIFEST, read_manifest
from qiloop.core.versions import Version
from qiloop.fleet.component_store import ComponentStore

INFERENCE_NAME = "qiloop-inference"
CODE_ARCHIVE = "inference.zip"
_EPOCH = (1980, 1, 1, 0, 0, 0)
# The packages a device runs (the direction of imports keeps them free of the cloud side).
DEVICE_PACKAGES = ("core", "protocol", "edge")
# How the device runs the inference app (its own entry point: the CLI is not shipped);
# the nucleus fills in the placeholders.
INFERENCE_COMMAND = [
    "{python}", "-m", "qiloop.edge.inference",
    "--package", "{model_path}", "--device-id", "{device_id}", "--broker", "{broker_url}", "--watch", "{camera_dir}",
    "--home", "{data_dir}",  # the outbox outlives code updates: not inside the version folder
    SETTINGS_ARG,  # the deployment's settings for the app, as key=value (e.g. feedback.sample_rate=0.2)
]  # fmt: skip


def model_component(store: ComponentStore, package: str | Path, *, name: str | None = None) -> Component:
    """Publish a verified model package as component ``name`` (default: the model's name) at its version.

    Raises:
        ConfigurationError: The package has no version (build it through the registry).
    """
    folder = Path(package)
    manifest = read_manifest(folder, verify=True)
    if not manifest.version:
        raise ConfigurationError(
            f"model package {folder} has no version",
            hint="deploy a registered model version (qiloop models download NAME/VERSION)",
        )
    files = {file: folder / file for file in manifest.files} | {MANIFEST: folder / MANIFEST}
    description = f"{manifest.name} v{manifest.version}: {', '.join(manifest.classes)}"
    return store.publish(name or manifest.name, manifest.version, ComponentKind.MODEL, files, description=description)


def source_archive(root: str | Path | None = None) -> bytes:
    """A reproducible zip of the device's part of the ``qiloop`` package's Python source.

    Only the top-level ``__init__.py`` and ``py.typed`` and the source of
    :data:`DEVICE_PACKAGES` go in: no caches, data, cloud side or CLI.
    """
    root = Path(root or Path(qiloop.__file__).parent)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if not _device_file(path, root):
                continue
            info = zipfile.ZipInfo(f"qiloop/{path.relative_to(root).as_posix()}", date_time=_EPOCH)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def inference_component(
    store: ComponentStore,
    *,
    model_name: str,
    model_range: str = ">=1",
    name: str = INFERENCE_NAME,
    source: str | Path | None = None,
) -> Component:
    """Publish the inference code as the next version of ``name``; unchanged code returns the latest version."""
    archive = source_archive(source)
    lifecycle = Lifecycle(command=INFERENCE_COMMAND, environment={"PYTHONPATH": "{component}"}, unpack=[CODE_ARCHIVE])
    dependencies = {model_name: model_range}
    latest = store.latest(name)
    if latest is not None and _unchanged(latest, archive, lifecycle, dependencies):
        return latest
    version = str(Version(latest.version).parts[0] + 1) if latest else "1"
    return store.publish(
        name, version, ComponentKind.INFERENCE, {CODE_ARCHIVE: archive}, lifecycle=lifecycle,
        dependencies=dependencies, description=f"qiloop {qiloop.__version__} inference app",
    )  # fmt: skip


def _device_file(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    if path.is_dir() or "__pycache__" in parts or path.suffix not in (".py", ".typed"):
        return False
    return parts[0] in DEVICE_PACKAGES if len(parts) > 1 else parts[0] in ("__init__.py", "py.typed")


def _unchanged(latest: Component, archive: bytes, lifecycle: Lifecycle, dependencies: dict[str, str]) -> bool:
    digest = hashlib.sha256(archive).hexdigest()
    return (
        [f.sha256 for f in latest.files] == [digest]
        and latest.lifecycle == lifecycle
        and latest.dependencies == dependencies
    )
