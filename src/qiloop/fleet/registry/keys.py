"""The registry's device keys and enrollment: registered keys, one-time tokens, devices waiting for an admin.

A key's row also keeps the signed sequences of the device's last accepted hello and status,
so a replayed or stale one is recognised; registering a new key starts them afresh.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from qiloop.core.errors import ConfigurationError
from qiloop.fleet.registry.database import reading, upsert, writing
from qiloop.fleet.registry.records import DeviceKey, PendingDevice
from qiloop.fleet.registry.tables import device_keys, enroll_tokens, pending_devices
from qiloop.protocol.enrollment import proof_matches
from qiloop.protocol.keys import decode_public_key, key_id

PENDING_LIMIT = 1000  # devices waiting for an admin: anyone can ask, so the list is bounded
_KEY = (device_keys.c.device_id, device_keys.c.public_key, device_keys.c.key_id, device_keys.c.source,
        device_keys.c.added_at)  # fmt: skip


class KeyRegistry:
    """Device keys, enrollment tokens and pending devices (a part of :class:`~qiloop.fleet.registry_db.FleetDB`)."""

    engine: Engine

    def add_device_key(
        self, device_id: str, public_key: str, *, source: str = "admin", replace: bool = False
    ) -> DeviceKey:
        """Register ``public_key`` (base64) for ``device_id``; from then on only it signs that device's messages.

        Raises:
            InvalidRecordError: Not a base64 Ed25519 public key.
            ConfigurationError: The device has another key and ``replace`` is False.
        """
        raw = decode_public_key(public_key)
        key = DeviceKey(device_id, public_key.strip(), key_id(raw), source, time.time())
        with writing(self.engine) as db:
            old = db.execute(select(device_keys.c.key_id).where(device_keys.c.device_id == device_id)).scalar()
            if old is not None and old != key.key_id and not replace:
                raise ConfigurationError(
                    f"device {device_id!r} already has key {old}",
                    hint="pass --replace to register the new key (the old one stops working)",
                )
            row = {"device_id": device_id, "public_key": key.public_key, "key_id": key.key_id, "source": source,
                   "added_at": key.added_at}  # fmt: skip
            upsert(db, device_keys, "device_id", row, {"hello_sequence": None, "status_sequence": None})
        return key

    def device_key(self, device_id: str) -> DeviceKey | None:
        """The key registered for ``device_id``, or None when it is not enrolled."""
        with reading(self.engine) as db:
            row = db.execute(select(*_KEY).where(device_keys.c.device_id == device_id)).first()
        return DeviceKey(*row) if row else None

    def device_keys(self) -> list[DeviceKey]:
        """Every registered key, by device id."""
        with reading(self.engine) as db:
            return [DeviceKey(*r) for r in db.execute(select(*_KEY).order_by(device_keys.c.device_id))]

    def remove_device_key(self, device_id: str) -> bool:
        """Forget a device's key (its messages are dropped until it enrolls again); False when it had none."""
        with writing(self.engine) as db:
            return bool(db.execute(delete(device_keys).where(device_keys.c.device_id == device_id)).rowcount)

    def add_enroll_token(self, device_id: str, digest: str, expires_at: float) -> None:
        """Keep a one-time token's sha256 for ``device_id`` until ``expires_at`` (epoch seconds)."""
        row = {"digest": digest, "device_id": device_id, "created_at": time.time(), "expires_at": expires_at}
        with writing(self.engine) as db:
            db.execute(enroll_tokens.insert().values(row))

    def enroll(self, device_id: str, public_key: str, proof: str, at: float | None = None) -> DeviceKey | None:
        """Register ``public_key`` for a device that has none, spending the token ``proof`` was made with.

        None when the device already has a key or no unused, unexpired token of the device matches.
        """
        at = at or time.time()
        raw = decode_public_key(public_key)
        t = enroll_tokens.c
        with writing(self.engine) as db:
            if db.execute(select(device_keys.c.device_id).where(device_keys.c.device_id == device_id)).first():
                return None
            tokens = db.execute(
                select(t.digest).where(t.device_id == device_id, t.used_at.is_(None), t.expires_at > at)
            ).scalars()
            digest = next((d for d in tokens if proof_matches(d, device_id, public_key, proof)), None)
            if digest is None:
                return None
            key = DeviceKey(device_id, public_key, key_id(raw), "token", at)
            unused = update(enroll_tokens).where(t.digest == digest, t.used_at.is_(None))
            spent = db.execute(unused.values(used_at=at, key_id=key.key_id)).rowcount
            if not spent:  # another process spent it first (PostgreSQL; SQLite's writers take turns)
                return None
            row = {"device_id": device_id, "public_key": public_key, "key_id": key.key_id, "source": "token",
                   "added_at": at}  # fmt: skip
            db.execute(device_keys.insert().values(row))
        return key

    def note_pending(self, device_id: str, public_key: str, topic: str, payload: bytes) -> None:
        """Keep the last hello of a device that is not enrolled (the newest :data:`PENDING_LIMIT` devices)."""
        row = {"device_id": device_id, "public_key": public_key, "key_id": key_id(decode_public_key(public_key)),
               "topic": topic, "payload": payload, "seen_at": time.time()}  # fmt: skip
        p = pending_devices.c
        with writing(self.engine) as db:
            upsert(db, pending_devices, "device_id", row)
            newest = select(p.device_id).order_by(p.seen_at.desc()).limit(PENDING_LIMIT)
            db.execute(delete(pending_devices).where(p.device_id.not_in(newest.scalar_subquery())))

    def pending_devices(self) -> list[PendingDevice]:
        """Devices waiting for a key to be registered, newest first."""
        p = pending_devices.c
        with reading(self.engine) as db:
            rows = db.execute(select(p.device_id, p.public_key, p.key_id, p.seen_at).order_by(p.seen_at.desc()))
            return [PendingDevice(*r) for r in rows]

    def take_admitted(self) -> list[tuple[str, bytes]]:
        """``(topic, hello payload)`` of the pending devices that have a key now, removed from the list."""
        p = pending_devices.c
        with writing(self.engine) as db:
            rows = db.execute(
                select(p.device_id, p.topic, p.payload).join_from(
                    pending_devices, device_keys, p.device_id == device_keys.c.device_id
                )
            ).all()
            if rows:
                db.execute(delete(pending_devices).where(p.device_id.in_([r[0] for r in rows])))
        return [(topic, bytes(payload)) for _, topic, payload in rows]

    def accept_hello(self, device_id: str, sequence: int) -> str:
        """``new`` when the hello's sequence is above the last accepted one (remembered), else ``same`` or ``old``."""
        return self._advance(device_id, device_keys.c.hello_sequence, sequence)

    def accept_status(self, device_id: str, sequence: int) -> str:
        """``new`` when the status's sequence is above the last accepted one (and remember it), ``same`` or ``old``."""
        return self._advance(device_id, device_keys.c.status_sequence, sequence)

    def _advance(self, device_id: str, column, value: int) -> str:
        with writing(self.engine) as db:
            query = select(column).where(device_keys.c.device_id == device_id)
            if db.dialect.name == "postgresql":
                query = query.with_for_update()  # SQLite's writers already take turns
            row = db.execute(query).first()
            last = row[0] if row else None
            if last is not None and value <= last:
                return "same" if value == last else "old"
            if row is not None:
                db.execute(update(device_keys).where(device_keys.c.device_id == device_id).values({column.name: value}))
        return "new"
