"""Which device messages the fleet believes: signed by the key registered for the device they name.

:meth:`DeviceTrust.check` takes a topic and the raw payload and returns the message's fields
only when

1. the message is signed (:mod:`qiloop.protocol.signed`) and names a device;
2. a per-device topic (``qiloop/devices/<id>/...``) names that same device: one device
   cannot speak on another's topic (results share one topic, and are bound by the key alone);
3. the device is enrolled and its registered key made the signature — or, for a hello,
   the device presents a key, signs with it, and proves a one-time enrollment token that
   an admin created for that device id (:mod:`qiloop.protocol.enrollment`); the key is then
   registered and the token spent, in one transaction.

Anything else raises :class:`UntrustedMessage` with the reason. Replays are recognised by what
the signature covers: the ``(device_id, sequence)`` of every message that went through a
device's outbox (reports, results, status, feedback), which the stores record once (the results
journal remembers each key for its window, then refuses anything at or below the highest
sequence it forgot, see :mod:`qiloop.fleet.results_db`), and the
sequence of a hello (a counter the device keeps) and of a status, which must go up per device
(:meth:`~qiloop.fleet.registry_db.FleetDB.accept_hello`, ``accept_status``). A time window
would drop what a device buffered through an outage, or what the broker held for a
controller that was away, and a device clock that jumps back (a board without a battery-backed
clock boots in 1970) would silence it; a signed sequence loses nothing and still refuses every copy.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from qiloop.core.errors import InvalidRecordError
from qiloop.fleet.registry_db import FleetDB
from qiloop.protocol.keys import SignatureError, decode_public_key
from qiloop.protocol.signed import SignedMessage, read_signed
from qiloop.protocol.topics import DEVICE_ROOT, device_of

log = logging.getLogger(__name__)
ENROLL_HINT = "enroll the device: qiloop fleet enroll-token --device ID, or qiloop fleet add-key"


class UntrustedMessage(InvalidRecordError):
    """A device message the fleet does not believe (unsigned, wrong key, wrong topic, not enrolled, replayed).

    ``kind`` is the kind the message claims (``unknown`` when it names none), for counting;
    ``pending`` is the public key of a hello from a device not enrolled, signed by that key: the
    device asks to join, and an admin may admit it (``qiloop fleet add-key --pending``).
    """

    def __init__(self, message: str, *, kind: str = "unknown", hint: str | None = None, pending: str = "") -> None:
        super().__init__(message, hint=hint)
        self.kind, self.pending = kind, pending


class DeviceTrust:
    """Checks device messages against the device keys in the fleet database.

    Args:
        db: The fleet database holding the device keys and enrollment tokens.
        device_root: The root of the per-device topics.
    """

    def __init__(self, db: FleetDB, *, device_root: str = DEVICE_ROOT) -> None:
        self.db, self.device_root = db, device_root

    def check(self, topic: str, payload: bytes | str, *, enroll: bool = False) -> dict[str, Any]:
        """The message's fields if its device's registered key signed it on a topic it may use.

        Args:
            enroll: The message is a hello: an unenrolled device may enroll with a token's proof.

        Raises:
            InvalidRecordError: The payload is not a JSON object (malformed, not untrusted).
            UntrustedMessage: Why the message is not believed.
        """
        try:
            signed = read_signed(payload)
        except SignatureError as exc:
            raise UntrustedMessage("unsigned message", kind=_claimed_kind(payload), hint=ENROLL_HINT) from exc
        kind = str(signed.data.get("kind", "unknown"))
        device = signed.device_id
        if not device:
            raise UntrustedMessage("the message names no device", kind=kind)
        where = device_of(topic, self.device_root)
        if where is not None and where[0] != device:
            raise UntrustedMessage(f"a message from {device!r} on the topic of device {where[0]!r}", kind=kind)
        key = self.db.device_key(device)
        if key is None:
            if enroll:
                return self._enroll(signed, kind)
            raise UntrustedMessage(f"device {device!r} is not enrolled", kind=kind, hint=ENROLL_HINT)
        try:
            return signed.verify(key.raw)
        except SignatureError as exc:
            raise UntrustedMessage(exc.message, kind=kind) from exc

    def _enroll(self, signed: SignedMessage, kind: str) -> dict[str, Any]:
        device, proof, public = signed.device_id, signed.data.get("enrollment"), signed.data.get("public_key")
        if not isinstance(public, str) or not public:
            raise UntrustedMessage(f"device {device!r} is not enrolled", kind=kind, hint=ENROLL_HINT)
        try:
            data = signed.verify(decode_public_key(public))  # it holds the key it asks to enroll
        except InvalidRecordError as exc:  # SignatureError included
            raise UntrustedMessage(f"enrollment of {device!r} refused: {exc.message}", kind=kind) from exc
        if not proof or not isinstance(proof, str):
            raise UntrustedMessage(
                f"device {device!r} is not enrolled and brings no enrollment token (it waits for an admin)",
                kind=kind, hint=f"qiloop fleet keys --pending; qiloop fleet add-key --device {device} --pending",
                pending=public,
            )  # fmt: skip
        key = self.db.enroll(device, public, proof)
        if key is None:
            raise UntrustedMessage(
                f"enrollment of {device!r} refused: no unused, unexpired token of this device matches",
                kind=kind, hint=f"create a new token (qiloop fleet enroll-token --device {device}), or admit the"
                f" key it presented: qiloop fleet add-key --device {device} --pending", pending=public,
            )  # fmt: skip
        log.info("device %s enrolled with key %s", device, key.key_id)
        return data


def _claimed_kind(payload: bytes | str) -> str:
    """The ``kind`` an unsigned message claims (for counting only; nothing in it is believed)."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return "unknown"
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if kind in ("result", "status", "feedback", "deployment", "hello") else "unknown"
