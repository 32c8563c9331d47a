"""The registry's deployments, target sequences, rollouts and controller heartbeats."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from qiloop.core.deployments import SignedDeployment
from qiloop.fleet.registry.database import insert, reading, upsert, writing
from qiloop.fleet.registry.tables import controllers, deployment_reports, deployments, rollouts, sequences
from qiloop.fleet.rollout import Rollout

ENDED = ("SUCCEEDED", "ABORTED", "SUPERSEDED")


class DeploymentLog:
    """Deployments, sequences, rollouts and controllers (a part of :class:`~qiloop.fleet.registry_db.FleetDB`)."""

    engine: Engine

    def next_sequence(self, target: str) -> int:
        """The next sequence of ``target``: above every one allocated or reported, never handed out twice.

        One upsert allocates it: on SQLite inside ``BEGIN IMMEDIATE`` (one writer at a time), on
        PostgreSQL ``INSERT … ON CONFLICT DO UPDATE … RETURNING``, which locks the target's row, so
        a second caller waits and then counts from the first one's number.
        """
        with writing(self.engine) as db:
            reported = db.execute(
                select(func.max(deployment_reports.c.deployment_sequence)).where(deployment_reports.c.target == target)
            ).scalar()
            first = (reported or 0) + 1
            bigger = func.greatest if db.dialect.name == "postgresql" else func.max  # SQLite's max(a, b) is scalar
            statement = insert(db, sequences).values(target=target, sequence=first)
            statement = statement.on_conflict_do_update(
                index_elements=["target"], set_={"sequence": bigger(sequences.c.sequence + 1, first)}
            ).returning(sequences.c.sequence)
            return int(db.execute(statement).scalar_one())

    def add_deployment(self, signed: SignedDeployment, *, rollout_id: str = "", role: str = "") -> None:
        """Keep a signed deployment document the controller created, with its rollout and role."""
        deployment = signed.deployment()
        row = {"id": deployment.id, "target": str(deployment.target), "sequence": deployment.sequence,
               "rollout_id": rollout_id, "role": role, "created_at": time.time(),
               "signed": signed.model_dump_json()}  # fmt: skip
        with writing(self.engine) as db:
            db.execute(deployments.insert().values(row))

    def deployment(self, deployment_id: str) -> SignedDeployment | None:
        """The signed document of a deployment, or None when the controller never created it."""
        with reading(self.engine) as db:
            signed = db.execute(select(deployments.c.signed).where(deployments.c.id == deployment_id)).scalar()
        return SignedDeployment.model_validate_json(signed) if signed is not None else None

    def save_rollout(self, rollout: Rollout) -> None:
        """Store a rollout's state (a new one, or its next phase)."""
        row = {"id": rollout.id, "target": str(rollout.target), "phase": rollout.phase.value,
               "created_at": rollout.created_at, "updated_at": time.time(),
               "data": rollout.model_dump_json()}  # fmt: skip
        with writing(self.engine) as db:
            statement = insert(db, rollouts).values(row)
            changes = {name: statement.excluded[name] for name in ("phase", "updated_at", "data")}
            db.execute(statement.on_conflict_do_update(index_elements=["id"], set_=changes))  # keeps created_at

    def rollout(self, rollout_id: str) -> Rollout | None:
        """One rollout, or None when there is none of that id."""
        with reading(self.engine) as db:
            data = db.execute(select(rollouts.c.data).where(rollouts.c.id == rollout_id)).scalar()
        return Rollout.model_validate_json(data) if data is not None else None

    def rollouts(self, *, active: bool = False, limit: int = 20) -> list[Rollout]:
        """The newest rollouts first (``active``: only those not ended), or the oldest active first."""
        query = select(rollouts.c.data)
        if active:
            query = query.where(rollouts.c.phase.not_in(ENDED)).order_by(rollouts.c.created_at)
        else:
            query = query.order_by(rollouts.c.created_at.desc()).limit(limit)
        with reading(self.engine) as db:
            return [Rollout.model_validate_json(data) for data in db.execute(query).scalars()]

    def heartbeat(self, name: str, broker_url: str, files_url: str, pid: int) -> None:
        """Note that the controller ``name`` runs now (``qiloop deploy`` looks for one)."""
        row = {"name": name, "broker_url": broker_url, "files_url": files_url, "pid": pid, "heartbeat_at": time.time()}
        with writing(self.engine) as db:
            upsert(db, controllers, "name", row)

    def controllers(self, within_s: float = 10.0) -> list[dict]:
        """Controllers that beat within the last ``within_s`` seconds."""
        c = controllers.c
        query = select(c.name, c.broker_url, c.files_url, c.pid, c.heartbeat_at).where(
            c.heartbeat_at >= time.time() - within_s
        )
        with reading(self.engine) as db:
            return [dict(row._mapping) for row in db.execute(query)]
