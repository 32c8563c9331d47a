"""Fetch a component file over HTTP, verifying it while it streams.

The deployment says each file's size and sha256. The download stops reading at
the declared size plus one byte (a longer file is refused without reading the
rest), hashes as it goes, writes to a temporary name in the destination folder,
and renames into place only when size and digest match. A file already present
with the right digest is not fetched again, which is what makes a model-only
update transfer only the model.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from qiloop.core.components import ComponentFile
from qiloop.core.errors import InvalidRecordError, StoreError

CHUNK = 1 << 16


class TransferError(StoreError):
    """The file server could not be reached or answered with an error (retry later)."""


class IntegrityError(InvalidRecordError):
    """The bytes received differ from the deployment's size or sha256."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, entry: ComponentFile, dest: Path, *, timeout: float = 30.0) -> int:
    """Download ``url`` to ``dest`` if ``dest`` does not already hold ``entry``; bytes transferred.

    Raises:
        TransferError: Network or HTTP failure (nothing is left at ``dest``).
        IntegrityError: Too long, too short, or the wrong sha256 (nothing is left at ``dest``).
    """
    if dest.is_file() and dest.stat().st_size == entry.size and sha256_file(dest) == entry.sha256:
        return 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    try:
        received = _stream(url, entry, tmp, timeout)
        os.replace(tmp, dest)
        return received
    finally:
        tmp.unlink(missing_ok=True)


def _stream(url: str, entry: ComponentFile, tmp: Path, timeout: float) -> int:
    h = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, tmp.open("wb") as out:
            while received <= entry.size:
                chunk = response.read(min(CHUNK, entry.size + 1 - received))
                if not chunk:
                    break
                received += len(chunk)
                if received > entry.size:
                    raise IntegrityError(f"{entry.name} is longer than the {entry.size} bytes the deployment declares")
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        raise TransferError(f"downloading {entry.name} from {url} failed: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise TransferError(f"downloading {entry.name} from {url} failed: {exc}") from exc
    if received < entry.size:
        raise IntegrityError(f"{entry.name} ended after {received} of {entry.size} bytes")
    if h.hexdigest() != entry.sha256:
        raise IntegrityError(f"{entry.name} does not match the sha256 the deployment declares")
    return received
