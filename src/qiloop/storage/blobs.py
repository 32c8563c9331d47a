"""Content-addressed image bytes on any fsspec filesystem.

A blob's key is ``blobs/<sha[:2]>/<sha>.<jpg|png|bmp|tif|webp>``: the name is the content's
sha256, so writing the same bytes twice lands on the same key, and a blob is
never modified once written. On a local disk a blob is written to a temporary
name and renamed into place, so a reader (or a crash) never sees half a blob;
an object store's PUT is already all-or-nothing.
"""

from __future__ import annotations

import os
import uuid

import fsspec

from qiloop.core.errors import NotFoundError, StoreError
from qiloop.storage.backends import fsspec_options, is_local, local_path

_EXTENSIONS = {"jpeg": "jpg", "png": "png", "bmp": "bmp", "tiff": "tif", "webp": "webp"}


def blob_key(sha256: str, fmt: str) -> str:
    """Key of the blob holding bytes with this sha256, relative to the store root.

    Example:
        >>> blob_key("ab" + "0" * 62, "jpeg")
        'blobs/ab/ab00000000000000000000000000000000000000000000000000000000000000.jpg'
    """
    return f"blobs/{sha256[:2]}/{sha256}.{_EXTENSIONS[fmt]}"


class BlobStore:
    """Reads and writes blobs under one root (a folder or an object-store prefix).

    Args:
        fs: The fsspec filesystem holding the blobs.
        root: The root path in ``fs``'s own terms (no protocol).
        root_url: The root as a URL, prefixed to keys to make the records' ``uri``.
    """

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, root_url: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.root_url = root_url.rstrip("/")
        self._local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
        self._made: set[str] = set()  # local folders known to exist

    @classmethod
    def from_url(cls, url: str, storage_options: dict[str, str] | None = None) -> BlobStore:
        """Open the blob area of the store at ``url`` (a path, ``file://`` or ``s3://`` URL)."""
        if is_local(url):
            path = str(local_path(url))
            return cls(fsspec.filesystem("file"), path, path)
        fs, root = fsspec.url_to_fs(url, **fsspec_options(url, storage_options))
        return cls(fs, root, url)

    @property
    def local(self) -> bool:
        """True when the blobs are files on this machine's disk."""
        return self._local

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def uri(self, key: str) -> str:
        """Where a blob lives, as readers outside qiloop (fsspec, Pillow for local paths) open it."""
        return f"{self.root_url}/{key}"

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``; all-or-nothing, and a no-op when the blob already exists."""
        path = self.path(key)
        try:
            if self.fs.exists(path):
                return
            if self._local:
                folder = os.path.dirname(path)
                if folder not in self._made:
                    os.makedirs(folder, exist_ok=True)
                    self._made.add(folder)
                tmp = f"{path}.{uuid.uuid4().hex}.tmp"
                with open(tmp, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            else:
                self.fs.pipe_file(path, data)
        except OSError as exc:
            raise StoreError(
                f"could not write image bytes to {self.uri(key)}: {exc}",
                hint="check that the store location is writable (and, on S3, that the bucket exists)",
            ) from exc

    def read(self, key: str) -> bytes:
        """The bytes of blob ``key``."""
        try:
            return self.fs.cat_file(self.path(key))
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"the image bytes at {self.uri(key)} are missing",
                hint="the index names them but the blob is gone; ingest the original file again to restore it",
            ) from exc
