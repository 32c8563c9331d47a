"""Install the components of an admitted deployment into the device home, verified and resumable.

For each component the deployment names, the installer fetches its document from the
controller and checks that its digest is the one the signed deployment fixes; checks
that the new running set meets every dependency; downloads only the files the device
lacks (a file already installed under another version is linked, not fetched); and
builds the version folder: files in place, archives unpacked safely, ``component.json``
written, ``.complete`` last. Every step can be repeated after a crash: downloads land
in ``<home>/downloads/<sha256>`` by atomic rename and are skipped when present, and a
version folder without ``.complete`` is rebuilt from scratch.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import ValidationError

from qiloop.core.components import Component, unmet_dependencies
from qiloop.core.deployments import ComponentRef, Deployment
from qiloop.core.errors import InvalidRecordError
from qiloop.edge.agent.download import TransferError, fetch, sha256_file
from qiloop.edge.agent.failpoint import Failpoints
from qiloop.edge.agent.home import COMPLETE, DeviceHome, _write_durably
from qiloop.edge.agent.unpack import UnpackLimits, UnsafeArchiveError, unpack_zip
from qiloop.protocol.downloads import component_url, file_url

COMPONENT_FILE = "component.json"
RESERVED = frozenset({COMPONENT_FILE, COMPLETE})
MAX_DOCUMENT = 1 << 20


class DeploymentRefused(InvalidRecordError):
    """The deployment cannot install as given (digest, dependency or artefact); the device is unchanged."""


def installed(home: DeviceHome, name: str, version: str) -> Component | None:
    """The document of a completely installed version, or None."""
    if not home.is_complete(name, version):
        return None
    return Component.model_validate_json((home.version_dir(name, version) / COMPONENT_FILE).read_text())


def running_components(home: DeviceHome) -> dict[str, Component]:
    """The documents of the running set (name → component)."""
    found = {name: installed(home, name, version) for name, version in home.current().items()}
    return {name: c for name, c in found.items() if c is not None}


class Installer:
    """Fetches, verifies and installs components; ``bytes_downloaded`` counts what crossed the network.

    Args:
        home: The device home.
        controller_url: Base URL of the fleet controller's file server.
        failpoints: Testing hook (see :mod:`qiloop.edge.agent.failpoint`).
        limits: What an archive may expand to.
        timeout: Seconds one HTTP request may stall.
    """

    def __init__(
        self,
        home: DeviceHome,
        controller_url: str,
        *,
        failpoints: Failpoints | None = None,
        limits: UnpackLimits = UnpackLimits(),
        timeout: float = 30.0,
    ) -> None:
        self.home, self.controller_url = home, controller_url
        self.failpoints = failpoints or Failpoints()
        self.limits, self.timeout = limits, timeout
        self.bytes_downloaded = 0

    def documents(self, deployment: Deployment) -> dict[str, Component]:
        """Each named component's document, checked against the deployment's digest.

        Raises:
            DeploymentRefused: A document is missing, malformed, or not the one the deployment signed.
            TransferError: The controller could not be reached (retry later).
        """
        return {ref.name: self._document(ref) for ref in deployment.components}

    def plan(self, documents: dict[str, Component]) -> dict[str, str]:
        """The running set after the deployment: the current set with the deployment's versions laid over it.

        Raises:
            DeploymentRefused: The new set leaves a dependency unmet.
        """
        new = {**running_components(self.home), **documents}
        problems = unmet_dependencies(new)
        if problems:
            raise DeploymentRefused("; ".join(problems), hint="deploy the components it needs together")
        return {name: c.version for name, c in sorted(new.items())}

    def download(self, component: Component) -> int:
        """Fetch the files of ``component`` the device lacks into ``downloads/``; bytes transferred."""
        if self.home.is_complete(component.name, component.version):
            return 0
        local = self._local_files()
        received = 0
        for i, entry in enumerate(component.files):
            if entry.sha256 in local:
                continue
            dest = self.home.downloads / entry.sha256
            received += fetch(file_url(self.controller_url, entry.sha256), entry, dest, timeout=self.timeout)
            if i == 0:
                self.failpoints.hit("download")
        self.bytes_downloaded += received
        return received

    def install(self, component: Component) -> None:
        """Build the version folder of a downloaded component and mark it complete (idempotent).

        Raises:
            UnsafeArchiveError: An archive tried to leave its folder, hold a link or expand too far, or cannot
                be unpacked (a corrupt entry, a lying size, a name the file system refuses).
            DeploymentRefused: A file is missing from ``downloads/`` or an archive is not one of the files.
        """
        name, version = component.name, component.version
        if self.home.is_complete(name, version):
            return
        folder = self.home.version_dir(name, version)
        shutil.rmtree(folder, ignore_errors=True)  # a crash left it half-built
        folder.mkdir(parents=True)
        try:
            self._place_files(component, folder)
            self._unpack(component, folder)
            _write_durably(folder / COMPONENT_FILE, component.model_dump_json(indent=2).encode())
            self.failpoints.hit("before_complete")
            self.home.mark_complete(name, version)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def clear_downloads(self) -> None:
        """Forget downloaded files (each installed one lives on in its version folder)."""
        for path in self.home.downloads.iterdir():
            path.unlink(missing_ok=True) if not path.is_dir() else shutil.rmtree(path, ignore_errors=True)

    def _document(self, ref: ComponentRef) -> Component:
        url = component_url(self.controller_url, ref.name, ref.version)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = response.read(MAX_DOCUMENT + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise DeploymentRefused(f"the controller has no component {ref.name}/{ref.version}") from exc
            raise TransferError(f"fetching {url} failed: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise TransferError(f"fetching {url} failed: {exc}") from exc
        self.bytes_downloaded += len(body)
        try:
            if len(body) > MAX_DOCUMENT:
                raise ValueError("larger than 1 MiB")
            component = Component.model_validate_json(body)
        except (ValidationError, ValueError) as exc:
            raise DeploymentRefused(f"the document of {ref.name}/{ref.version} is malformed: {exc}") from exc
        if (component.name, component.version) != (ref.name, ref.version) or component.digest != ref.digest:
            raise DeploymentRefused(
                f"the document served for {ref.name}/{ref.version} is not the one the deployment signed "
                "(digest differs)",
                hint="the controller's component store was altered; publish the component again",
            )
        return component

    def _local_files(self) -> dict[str, Path]:
        """sha256 → a verified copy already on the device (installed versions and downloads)."""
        found: dict[str, Path] = {}
        for doc in self.home.components.glob(f"*/*/{COMPONENT_FILE}"):
            if not (doc.parent / COMPLETE).is_file():
                continue
            component = Component.model_validate_json(doc.read_text())
            for entry in component.files:
                path = doc.parent / entry.name
                if path.is_file() and path.stat().st_size == entry.size:
                    found.setdefault(entry.sha256, path)
        return found

    def _place_files(self, component: Component, folder: Path) -> None:
        local = self._local_files()
        for entry in component.files:
            source = self.home.downloads / entry.sha256
            if not source.is_file():
                source = local.get(entry.sha256)
            if source is None or sha256_file(source) != entry.sha256:
                raise DeploymentRefused(f"{component.key}: {entry.name} was not downloaded", hint="deploy again")
            try:
                os.link(source, folder / entry.name)
            except OSError:
                shutil.copy2(source, folder / entry.name)

    def _unpack(self, component: Component, folder: Path) -> None:
        names = {f.name for f in component.files}
        for i, archive in enumerate(component.lifecycle.unpack):
            if archive not in names:
                raise DeploymentRefused(f"{component.key} unpacks {archive!r}, which is not one of its files")
            staging = folder / f".unpack-{i}"
            unpack_zip(folder / archive, staging, self.limits)
            self.failpoints.hit("unpack")
            for entry in sorted(staging.iterdir()):
                if entry.name in RESERVED or (folder / entry.name).exists():
                    raise UnsafeArchiveError(f"{archive} holds {entry.name!r}, which would replace a component file")
                os.rename(entry, folder / entry.name)
            staging.rmdir()
