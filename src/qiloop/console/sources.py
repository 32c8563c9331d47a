"""Where the console reads from: the labelling service's stores, the model registry and the fleet's database.

Each part opens on first use, so a home without a fleet or a registry still
shows every other page (a page whose part is missing says how to start it).
Opening never creates a part: the fleet database is read only when its file
exists, the registry only when its store does (or is a server).

Derived data that costs a scan of a store (the latest label of every image) is
cached per label-store version, so a page pays a scan only after labels changed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from qiloop.console.render import environment
from qiloop.settings import Settings


class ConsoleSources:
    """The console's collaborators, opened lazily and shared by its routes (thread-safe).

    Args:
        settings: Where everything lives.
        image_store, label_store, db: The labelling service's (the app passes its own).
        registry: A ready :class:`~qiloop.registry.ModelRegistry`; default: from ``settings`` when its store exists.
        fleet_db, results_db: Ready fleet databases; default: ``<home>/fleet.db`` when that file exists.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        image_store: Any,
        label_store: Any,
        db: Any,
        registry: Any = None,
        fleet_db: Any = None,
        results_db: Any = None,
    ) -> None:
        self.settings = settings
        self.labels, self.db = label_store, db
        self._service_images, self._images = image_store, None
        self._images_lock = threading.Lock()
        self._registry, self._fleet, self._results = registry, fleet_db, results_db
        self._alerts: Any = None
        self.templates = environment()
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Any, Any]] = {}

    # -- the parts ------------------------------------------------------------------------------

    def registry(self) -> Any | None:
        """The model registry, or None when none was ever created (no tracking store, no server)."""
        with self._lock:
            if self._registry is None and _registry_exists(self.settings):
                from qiloop.registry import ModelRegistry

                self._registry = ModelRegistry.from_settings(self.settings)
            return self._registry

    def fleet(self) -> Any | None:
        """The fleet controller's database (devices, rollouts), or None when there is no fleet yet."""
        with self._lock:
            if self._fleet is None and self.fleet_path.is_file():
                from qiloop.fleet.registry_db import FleetDB

                self._fleet = FleetDB.from_settings(self.settings)
            return self._fleet

    def results(self) -> Any | None:
        """The fleet's results and status store, or None when there is no fleet yet."""
        with self._lock:
            if self._results is None and self.fleet_path.is_file():
                from qiloop.fleet.results_db import ResultsDB

                self._results = ResultsDB.from_settings(self.settings)
            return self._results

    def alerts(self) -> Any | None:
        """The fleet's alert store (what the fleet's watch raised), or None when there is no fleet yet."""
        with self._lock:
            if self._alerts is None and self.fleet_path.is_file():
                from qiloop.fleet.alerts import AlertStore

                self._alerts = AlertStore.from_settings(self.settings)
            return self._alerts

    def image_rows(self) -> pl.DataFrame:
        """One row per stored image, current (see :func:`qiloop.console.image_index.image_frame`)."""
        from qiloop.console.image_index import image_frame

        with self._images_lock:
            return image_frame(self._image_handle())

    def image_record(self, sha256: str) -> Any | None:
        """The stored image's record, or None."""
        with self._images_lock:
            return self._image_handle().find(sha256)

    def feedback_images(self) -> set[str]:
        """The sha256 of every image a device sent back (read at most every 30 seconds)."""

        def compute() -> set[str]:
            with self._images_lock:
                return {entry.image_sha256 for entry in self._image_handle().feedback.list()}

        return self.for_seconds("feedback", 30.0, compute)

    def feedback_for(self, sha256: str) -> list[Any]:
        """Why devices sent this image back, with their pre-labels."""
        with self._images_lock:
            return self._image_handle().feedback.for_image(sha256)

    def _image_handle(self) -> Any:
        """The console's own handle on the image store (one handle is not for several threads)."""
        if self._images is None:
            from qiloop.storage import ImageStore

            url = self._service_images.url
            self._images = ImageStore.from_url(
                url,
                storage_options=self.settings.storage_options(url),
                group_pattern=self.settings.group_pattern,
                max_pixels=self.settings.max_image_pixels,
            )
        return self._images

    @property
    def offline_after_s(self) -> float:
        """A device not heard from for this long is offline (``fleet_offline_after_s``)."""
        return float(self.settings.fleet_offline_after_s)

    def presence(self) -> dict[str, Any]:
        """Each device's heartbeat (online, last heard from), by the fleet's own rule; empty without a fleet."""
        fleet, results = self.fleet(), self.results()
        if fleet is None or results is None:
            return {}
        from qiloop.fleet.heartbeat import fleet_presence

        return {p.device_id: p for p in fleet_presence(self.settings, results=results, registry=fleet)}

    @property
    def fleet_path(self) -> Path:
        return Path(self.settings.home) / "fleet.db"

    def links(self) -> dict[str, str]:
        """The web UIs of Dagster and MLflow where they run: started by ``qiloop up`` on this home, or a server."""
        found = {}
        from qiloop.stack.record import StackLock, read_record

        home = Path(self.settings.home)
        record = read_record(home)
        if record is not None and StackLock(home).held_elsewhere():  # the stack of that record still runs
            urls = {part.name: part.url for part in record.parts if part.url} | record.external
            for name, part in (("dagster", "dagster-webserver"), ("mlflow", "mlflow")):
                if urls.get(part):
                    found[name] = urls[part]
        tracking = self.settings.mlflow_tracking_uri
        if "mlflow" not in found and tracking.startswith(("http://", "https://")):
            found["mlflow"] = tracking
        return found

    # -- caches ---------------------------------------------------------------------------------

    def cached(self, key: str, stamp: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``'s value, recomputed only when ``stamp`` differs from the one it was computed for."""
        with self._lock:
            held = self._cache.get(key)
        if held is not None and held[0] == stamp:
            return held[1]
        value = compute()
        with self._lock:
            self._cache[key] = (stamp, value)
        return value

    def for_seconds(self, key: str, seconds: float, compute: Callable[[], Any]) -> Any:
        """``compute()``'s value, kept for ``seconds`` (for counts a page refresh need not redo)."""
        return self.cached(key, int(time.monotonic() // seconds), compute)

    def latest_labels(self) -> pl.DataFrame:
        """Each image's latest label record (``record_id``, ``image_sha256``, ``status``), per store version."""
        version = self.labels.version()

        def compute() -> pl.DataFrame:
            columns = ["record_id", "image_sha256", "status"]
            return pl.from_arrow(self.labels.latest_table(status=None, columns=columns))

        return self.cached("latest_labels", version, compute)

    def browse_frame(self) -> pl.DataFrame:
        """The images newest first with their label status (``data_view.ordered``), per index size and labels."""
        from qiloop.console.data_view import ordered

        rows, labels = self.image_rows(), self.latest_labels()
        return self.cached("browse", (rows.height, self.labels.version()), lambda: ordered(rows, labels))

    def approved_ids_at(self, version: int) -> pl.Series:
        """Record ids of the latest approved label of each image at label-store ``version`` (never changes)."""

        def compute() -> pl.Series:
            return pl.from_arrow(self.labels.latest_table(as_of=version, columns=["record_id"]))["record_id"]

        return self.cached(f"approved_at:{version}", version, compute)

    def close(self) -> None:
        """Close the fleet databases this object opened."""
        for part in (self._fleet, self._results, self._alerts):
            if part is not None:
                part.close()


def _registry_exists(settings: Settings) -> bool:
    """A SQLite tracking store that exists, or any other store (a server or database, never created here)."""
    from qiloop.registry.backend import sqlite_path

    path = sqlite_path(settings.mlflow_tracking_uri)
    return path is None or path.is_file()
