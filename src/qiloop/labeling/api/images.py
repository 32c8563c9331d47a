"""The service's image store, shared by the server's worker threads, so that image reads never wait on uploads.

One :class:`~qiloop.storage.ImageStore` object is not meant for several threads:
its in-memory index is refreshed in place. A single lock around it made every
labeller's image wait while an admin's upload hashed, decoded, verified and
wrote its files (8.6 s for one image during a 12-image upload). So the service
holds two handles on the same store, each used by one thread at a time:

- **reads**: a lookup in memory and one blob read (milliseconds), under a lock
  of their own;
- **uploads**: every file's decode, check and write, on a second handle opened
  on the first upload, one upload at a time.

The handles meet only in the store, the way two processes ingesting into one
store do: an upload's index rows are committed (atomically, Delta) before it
answers, and the reading handle takes them in on its first miss
(:meth:`ImageStore.get` refreshes). The cost is a second copy of the index in
memory (about 225 bytes an image), only once something is uploaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from qiloop.core.records import ImageRecord
from qiloop.settings import Settings


class SharedImages:
    """Reads and uploads on separate handles of one image store.

    Args:
        reader: The handle image reads use (the service's ``image_store``).
        open_writer: Opens the handle uploads use; called once, on the first upload.
    """

    def __init__(self, reader, open_writer: Callable[[], object]) -> None:
        self._reader = reader
        self._open_writer = open_writer
        self._writer = None
        self._reading = threading.Lock()
        self._writing = threading.Lock()

    @classmethod
    def of(cls, store, settings: Settings, writer=None) -> SharedImages:
        """Share ``store``; uploads use ``writer``, or a second handle on ``store``'s URL opened with ``settings``."""
        if writer is not None:
            return cls(store, lambda: writer)

        def open_writer():
            from qiloop.storage import ImageStore

            return ImageStore.from_url(
                store.url,
                storage_options=settings.storage_options(store.url),
                group_pattern=settings.group_pattern,
                max_pixels=settings.max_image_pixels,
            )

        return cls(store, open_writer)

    def read(self, sha256: str) -> tuple[ImageRecord, bytes]:
        """The image's record and bytes (checked against the sha256); never waits on an upload.

        Raises:
            NotFoundError: No such image in the store.
        """
        with self._reading:
            return self._reader.get(sha256), self._reader.read_bytes(sha256)

    @contextmanager
    def writing(self) -> Iterator:
        """The upload handle, held by this thread until the block ends (uploads run one at a time)."""
        with self._writing:
            if self._writer is None:
                self._writer = self._open_writer()
            yield self._writer
