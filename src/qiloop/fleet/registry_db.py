"""The fleet controller's memory: devices, reports, deployments, rollouts — on SQLite or PostgreSQL.

The database is ``fleet_db_url`` (``QILOOP_FLEET_DB_URL``; default ``sqlite:///<home>/fleet.db``),
reached through SQLAlchemy, its schema kept by Alembic migrations applied on open
(:mod:`qiloop.fleet.registry.migrate`; a ``fleet.db`` of an older qiloop is taken up as it is).

- ``devices``: every device that said hello (groups, public key, running set), with
  its last deployment report and its last status (received times by the controller's clock).
- ``deployment_reports``: every report, once per ``(device_id, sequence)`` (MQTT delivers
  at least once; a restarted device re-sends what its outbox holds).
- ``deployments``: every signed document the controller created, with its rollout.
- ``sequences``: the last sequence per target, allocated by one upsert that the database
  serialises, so two processes never hand out the same number; a target's next number is
  also above any sequence a device ever reported for it, so a lost database cannot make
  the fleet refuse new deployments as replays.
- ``rollouts``: each rollout's state (:class:`~qiloop.fleet.rollout.Rollout` as JSON).
- ``controllers``: a heartbeat per running controller, so ``qiloop deploy`` can tell
  whether anyone carries its rollout out.
- ``device_keys``: the public key registered for each device (by enrollment token or by an
  admin), with the signed sequences of its last accepted hello and status, so replayed or
  stale ones are recognised.
- ``enroll_tokens``: one-time enrollment tokens (their sha256 only), per device, until used or expired.
- ``pending_devices``: the last hello of each device that is not enrolled (signed by the key it
  presents), so an admin can see and admit it; the newest :data:`PENDING_LIMIT` are kept.

The results collector's journal stays in the SQLite file ``<home>/fleet.db``
(:mod:`qiloop.fleet.results_db`), beside these tables when the registry is there too.
"""

from __future__ import annotations

from pathlib import Path

from qiloop.fleet.registry.database import open_engine, sqlite_url
from qiloop.fleet.registry.deployments import DeploymentLog
from qiloop.fleet.registry.devices import DeviceRegistry
from qiloop.fleet.registry.keys import PENDING_LIMIT, KeyRegistry
from qiloop.fleet.registry.records import DeviceKey, DeviceRow, PendingDevice
from qiloop.protocol.reports import DeploymentReport, DeviceHello

# What callers imported from here before the registry was split (the messages it stores, too).
__all__ = ["PENDING_LIMIT", "DeploymentReport", "DeviceHello", "DeviceKey", "DeviceRow", "FleetDB", "PendingDevice"]


class FleetDB(DeviceRegistry, DeploymentLog, KeyRegistry):
    """Device registry, report log, deployments, rollouts and device keys in one database (thread-safe).

    Args:
        location: A SQLite file's path, or a database URL (``sqlite:///path``, ``postgresql://user@host/db``).

    Raises:
        ConfigurationError: ``location`` is a URL SQLAlchemy does not know, or of another backend.
        StoreError: The database cannot be reached, or a newer qiloop migrated it.
    """

    def __init__(self, location: str | Path) -> None:
        from qiloop.fleet.registry import migrate

        text = str(location)
        self.url = text if "://" in text else sqlite_url(location)
        self.path = None if "://" in text else Path(location)
        self.engine = open_engine(self.url)
        try:
            migrate.upgrade(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def from_settings(cls, settings, path: str | Path | None = None) -> FleetDB:
        """The fleet database at ``path`` if given, else ``settings.fleet_db_url`` (default ``<home>/fleet.db``)."""
        if path is not None:
            return cls(path)
        return cls(getattr(settings, "fleet_db_url", "") or settings.home / "fleet.db")

    def close(self) -> None:
        """Close every pooled connection (the object must not be used afterwards)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"FleetDB({self.engine.url.render_as_string(hide_password=True)!r})"
