"""Device messages signed by the device's own Ed25519 key, and how the fleet reads them.

A signed message is the message's JSON object with two more fields: ``key_id`` (the
signing key's id) and ``signature``, the base64 Ed25519 signature of the object's
canonical form without ``signature`` (``key_id`` included): keys sorted, no spaces, ASCII
(``json.dumps(obj, sort_keys=True, separators=(",", ":"))``). The fields stay where
consumers of the plain messages read them, so a signed result is still the reference
app's result.

The device signs when a message leaves (the publisher, at send time), so what waited in
the outbox is signed with the key the device has then. The fleet checks the signature
against the key it registered for the device the message names (see
:mod:`qiloop.fleet.device_trust`); the signed ``device_id`` and ``sequence`` are what
replays are recognised by.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiloop.core.errors import InvalidRecordError
from qiloop.protocol.keys import SignatureError, check_signature, key_id, load_or_create_key, raw_public_key

SIGNATURE, KEY_ID = "signature", "key_id"


def canonical(data: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: ``data`` as JSON with sorted keys and no spaces, in ASCII."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("ascii")


class MessageSigner:
    """Signs device messages with one Ed25519 private key."""

    def __init__(self, private_key) -> None:
        self._key = private_key
        self.public_key = raw_public_key(private_key)
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_key_file(cls, path: str | Path) -> MessageSigner:
        """The signer of the key in the PEM file ``path`` (created, mode 0600, when absent)."""
        key, _ = load_or_create_key(Path(path), what="device key", hint="move it aside; a new one is made")
        return cls(key)

    def sign(self, body: Mapping[str, Any]) -> bytes:
        """The payload of ``body`` signed: its fields, ``key_id`` and ``signature``."""
        data = {k: v for k, v in body.items() if k not in (SIGNATURE, KEY_ID)}
        data[KEY_ID] = self.key_id
        data[SIGNATURE] = base64.b64encode(self._key.sign(canonical(data))).decode()
        return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()

    def sign_payload(self, payload: bytes) -> bytes:
        """A JSON-object payload signed (see :meth:`sign`).

        Raises:
            InvalidRecordError: The payload is not a JSON object.
        """
        return self.sign(_object(payload))


@dataclass(frozen=True)
class SignedMessage:
    """A message as it arrived: its fields (``key_id`` included, ``signature`` not) and its signature."""

    data: dict[str, Any]
    signature: str

    @property
    def key_id(self) -> str:
        return str(self.data.get(KEY_ID, ""))

    @property
    def device_id(self) -> str:
        value = self.data.get("device_id")
        return value if isinstance(value, str) else ""

    def verify(self, public_key: bytes) -> dict[str, Any]:
        """The message's fields if ``public_key`` signed exactly them.

        Raises:
            SignatureError: Signed by another key, or the signature does not match.
        """
        if self.key_id != key_id(public_key):
            raise SignatureError(
                f"signed by key {self.key_id!r}, not by the key registered for {self.device_id!r}"
                f" ({key_id(public_key)!r})"
            )
        try:
            signed = canonical(self.data)
        except ValueError as exc:  # NaN or infinity: never produced by a signer
            raise SignatureError(f"a signed message cannot hold {exc}") from exc
        check_signature(public_key, self.signature, signed, what=f"message from {self.device_id!r}")
        return dict(self.data)


def read_signed(payload: bytes | str) -> SignedMessage:
    """Split a payload into its fields and its signature (nothing is checked yet).

    Raises:
        InvalidRecordError: Not a JSON object.
        SignatureError: The message carries no signature or key id.
    """
    data = _object(payload)
    signature = data.pop(SIGNATURE, None)
    if not isinstance(signature, str) or not signature or not isinstance(data.get(KEY_ID), str):
        raise SignatureError(
            "the message is not signed", hint="devices sign with their own key; enroll the device with the fleet"
        )
    return SignedMessage(data, signature)


def _object(payload: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRecordError(f"message is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRecordError("message is not a JSON object")
    return data
