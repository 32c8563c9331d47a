"""Enrolling devices: one-time tokens an admin hands to a device, or a device key the admin registers.

A device is believed only once the fleet knows its public key (:mod:`qiloop.fleet.device_trust`).
Two ways to get there:

- :func:`create_token`: a random one-time token for one device id, valid for a while; the fleet
  keeps its sha256 only. The device starts with ``QILOOP_ENROLL_TOKEN=<token>`` and its first
  hello enrolls its key (:mod:`qiloop.protocol.enrollment`).
- :func:`register_key`: the admin registers the device's public key (``identity/device.pub`` in
  the device home) directly, e.g. for devices provisioned in a factory; or
  :func:`admit_pending`: the key a device that is not enrolled presented in its (self-signed)
  hello, once the admin checked its key id. The controller then takes that hello in at once.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from qiloop.core.components import NAME_PATTERN
from qiloop.core.errors import ConfigurationError, NotFoundError
from qiloop.fleet.registry_db import DeviceKey, FleetDB
from qiloop.protocol.enrollment import token_digest

DEFAULT_TTL_S = 24 * 3600.0


@dataclass(frozen=True)
class EnrollToken:
    """A token to give to one device (shown once: the fleet keeps only its digest)."""

    device_id: str
    token: str
    expires_at: float


def _check_device_id(device_id: str) -> str:
    if not re.fullmatch(NAME_PATTERN, device_id):
        raise ConfigurationError(
            f"invalid device id {device_id!r}", hint="lowercase letters, digits, '.', '_' and '-' (as qiloop agent run)"
        )
    return device_id


def create_token(db: FleetDB, device_id: str, *, ttl_s: float = DEFAULT_TTL_S) -> EnrollToken:
    """A new one-time token that enrolls the key of ``device_id`` within ``ttl_s`` seconds.

    Raises:
        ConfigurationError: An invalid device id or a ttl that is not positive.
    """
    _check_device_id(device_id)
    if ttl_s <= 0:
        raise ConfigurationError(f"a token must live some time, not {ttl_s:g} s", hint="pass --ttl in hours, e.g. 24")
    token = secrets.token_urlsafe(24)
    expires_at = time.time() + ttl_s
    db.add_enroll_token(device_id, token_digest(token), expires_at)
    return EnrollToken(device_id, token, expires_at)


def register_key(db: FleetDB, device_id: str, public_key: str, *, replace: bool = False) -> DeviceKey:
    """Register ``public_key`` (base64 raw Ed25519, the text of a ``device.pub``) for ``device_id``.

    Raises:
        ConfigurationError: An invalid device id, or the device has another key and ``replace`` is False.
        InvalidRecordError: Not an Ed25519 public key.
    """
    return db.add_device_key(_check_device_id(device_id), public_key, source="admin", replace=replace)


def admit_pending(db: FleetDB, device_id: str, *, key_id: str | None = None) -> DeviceKey:
    """Register the key ``device_id`` presented while it waited (``key_id``, when given, must be that key's).

    Raises:
        NotFoundError: The device is not waiting (never said hello, or already enrolled).
        ConfigurationError: ``key_id`` names another key than the one the device presented.
    """
    waiting = {p.device_id: p for p in db.pending_devices()}
    pending = waiting.get(device_id)
    if pending is None:
        listed = ", ".join(sorted(waiting)[:20]) or "none"
        raise NotFoundError(f"device {device_id!r} is not waiting to join", hint=f"waiting: {listed}")
    if key_id is not None and key_id != pending.key_id:
        raise ConfigurationError(
            f"device {device_id!r} presented key {pending.key_id}, not {key_id}",
            hint="check the key id the device shows (qiloop agent prints it) before admitting it",
        )
    return db.add_device_key(device_id, pending.public_key, source="admin")
