"""The device home: installed component versions and which of them run.

Layout::

    <home>/components/<name>/<version>/   files and unpacked archives of one version
    <home>/components/<name>/current      symlink to the running version (a mirror, for people)
    <home>/current.json                   {name: version} of every running component: the truth
    <home>/trusted-keys/*.pub             public keys deployments must be signed with
    <home>/state.db                       sequences, deployments and their states

A version folder is usable only once it holds ``.complete`` (written last, after
every file was verified and unpacked), so a restart never runs a half-installed
component. The running set switches in one ``os.replace`` of ``current.json``: a
deployment that changes model and code switches both or neither. The per-component
``current`` links follow it and are rebuilt from it on start.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from qiloop.core.errors import StoreError

COMPLETE = ".complete"


class DeviceHome:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.components = self.root / "components"
        self.trusted_keys = self.root / "trusted-keys"
        self.downloads = self.root / "downloads"
        for folder in (self.components, self.trusted_keys, self.downloads):
            folder.mkdir(parents=True, exist_ok=True)
        self._current_file = self.root / "current.json"

    @property
    def state_path(self) -> Path:
        return self.root / "state.db"

    def version_dir(self, name: str, version: str) -> Path:
        return self.components / name / version

    def is_complete(self, name: str, version: str) -> bool:
        return (self.version_dir(name, version) / COMPLETE).is_file()

    def mark_complete(self, name: str, version: str) -> None:
        folder = self.version_dir(name, version)
        _write_durably(folder / COMPLETE, b"")

    def discard_incomplete(self) -> list[str]:
        """Remove version folders a crash left without ``.complete``; their keys."""
        removed = []
        for folder in sorted(self.components.glob("*/*")):
            if folder.is_dir() and not folder.is_symlink() and not (folder / COMPLETE).exists():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(f"{folder.parent.name}/{folder.name}")
        return removed

    def current(self) -> dict[str, str]:
        """The running set; empty on a new device."""
        try:
            return json.loads(self._current_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read {self._current_file}: {exc}", hint="restore it from state.db") from exc

    def switch(self, running: dict[str, str]) -> dict[str, str]:
        """Make ``running`` the running set in one atomic step; the previous set.

        Raises:
            StoreError: A version in ``running`` is not completely installed.
        """
        for name, version in running.items():
            if not self.is_complete(name, version):
                raise StoreError(f"{name}/{version} is not completely installed; refusing to switch to it")
        previous = self.current()
        _write_durably(self._current_file, json.dumps(running, sort_keys=True).encode())
        self.refresh_links()
        return previous

    def refresh_links(self) -> None:
        """Point each ``components/<name>/current`` link at the running version."""
        running = self.current()
        for folder in self.components.iterdir():
            link = folder / "current"
            if folder.name not in running:
                link.unlink(missing_ok=True)
                continue
            tmp = folder / f".current.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(running[folder.name], target_is_directory=True)
            os.replace(tmp, link)

    def prune(self, keep: set[tuple[str, str]]) -> int:
        """Delete installed versions not in ``keep`` (nor running); how many were removed."""
        keep = keep | set(self.current().items())
        removed = 0
        for folder in self.components.glob("*/*"):
            if folder.is_dir() and not folder.is_symlink() and (folder.parent.name, folder.name) not in keep:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed


def _write_durably(path: Path, data: bytes) -> None:
    """Write to a temporary file, fsync it, rename over ``path`` and fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
