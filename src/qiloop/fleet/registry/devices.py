"""The registry's devices and deployment reports: hellos, reports once per ``(device, sequence)``, statuses."""

from __future__ import annotations

import json
import time

from sqlalchemy import select
from sqlalchemy.engine import Engine

from qiloop.core.deployments import FINAL_STATES, DeploymentState
from qiloop.fleet.registry.database import insert_new, reading, upsert, writing
from qiloop.fleet.registry.records import DeviceRow
from qiloop.fleet.registry.tables import deployment_reports, devices
from qiloop.protocol.reports import DeploymentReport, DeviceHello


class DeviceRegistry:
    """Devices and their deployment reports (a part of :class:`~qiloop.fleet.registry_db.FleetDB`)."""

    engine: Engine

    def add_hello(self, hello: DeviceHello, at: float | None = None) -> None:
        """Register or refresh a device from its (retained) hello."""
        at = at or time.time()
        values = {"device_id": hello.device_id, "groups": json.dumps(sorted(hello.groups)),
                  "public_key": hello.public_key, "agent_version": hello.agent_version,
                  "running": json.dumps(hello.running, sort_keys=True), "hello_at": at, "seen_at": at}  # fmt: skip
        self._upsert_device(values)

    def add_report(self, report: DeploymentReport, at: float | None = None) -> bool:
        """Log a deployment report once per ``(device_id, sequence)``; False for a re-delivery."""
        at = at or time.time()
        running = json.dumps(report.running, sort_keys=True)
        with writing(self.engine) as db:
            row = {"device_id": report.device_id,
                   "sequence": report.sequence if report.sequence is not None else -int(at * 1e6),
                   "deployment_id": report.deployment_id, "target": report.target,
                   "deployment_sequence": report.deployment_sequence, "state": report.state.value,
                   "detail": report.detail, "time": report.time.isoformat(), "received_at": at,
                   "bytes_downloaded": report.bytes_downloaded, "running": running}  # fmt: skip
            new = insert_new(db, deployment_reports, row)
            if new:
                self._upsert_device(
                    {"device_id": report.device_id, "running": running, "report_state": report.state.value,
                     "report_deployment": report.deployment_id, "report_detail": report.detail,
                     "report_at": at, "seen_at": at},
                    db,
                )  # fmt: skip
        return bool(new)

    def note_status(self, device_id: str, state: str, at: float | None = None) -> None:
        """Remember a device's latest status (``running``, ``stopped``...) and when it arrived."""
        at = at or time.time()
        self._upsert_device({"device_id": device_id, "status_state": state, "status_at": at, "seen_at": at})

    def devices(self, group: str | None = None) -> list[DeviceRow]:
        """Every known device (or the members of ``group``), by id."""
        columns = [devices.c[f.name] for f in DeviceRow.__dataclass_fields__.values()]
        with reading(self.engine) as db:
            rows = db.execute(select(*columns).order_by(devices.c.device_id)).all()
        found = [DeviceRow(r[0], json.loads(r[1]), *r[2:4], json.loads(r[4]), *r[5:]) for r in rows]
        return [d for d in found if group is None or group in d.groups]

    def finals(self, deployment_ids: list[str]) -> dict[tuple[str, str], tuple[DeploymentState, str]]:
        """(device, deployment) → (final state, detail) for the given deployments."""
        if not deployment_ids:
            return {}
        r = deployment_reports.c
        query = (
            select(r.device_id, r.deployment_id, r.state, r.detail)
            .where(r.deployment_id.in_(deployment_ids), r.state.in_([s.value for s in FINAL_STATES]))
            .order_by(r.received_at)
        )
        with reading(self.engine) as db:
            rows = db.execute(query).all()
        return {(d, i): (DeploymentState(s), detail) for d, i, s, detail in rows}

    def reports(self, deployment_id: str) -> list[dict]:
        """Every report of one deployment, in arrival order."""
        r = deployment_reports.c
        query = (
            select(r.device_id, r.state, r.detail, r.received_at, r.bytes_downloaded)
            .where(r.deployment_id == deployment_id)
            .order_by(r.received_at)
        )
        with reading(self.engine) as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def _upsert_device(self, values: dict, db=None) -> None:
        """Insert the device or update the given columns of its row (in ``db``'s transaction, or a new one)."""
        if db is None:
            with writing(self.engine) as db:
                return self._upsert_device(values, db)
        upsert(db, devices, "device_id", values)
        return None
