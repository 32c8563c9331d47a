"""Model packages that many tests share: handed out read-only, checked at the end of the session."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def digests(folder: Path) -> dict[str, str]:
    """The sha256 of every file directly in ``folder``, by name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@contextmanager
def shared(package: Path) -> Iterator[Path]:
    """Hand out ``package`` to many tests, and fail at the end if one of them changed, added or removed a file."""
    before = digests(package)
    yield package
    after = digests(package)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"a test changed {', '.join(changed)} in the shared package {package}: copy it first"
