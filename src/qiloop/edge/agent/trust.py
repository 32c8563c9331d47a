"""Which deployment documents a device believes: Ed25519 signatures by trusted keys.

The device keeps the public keys it trusts in its home (``trusted-keys/<key_id>.pub``,
the raw 32-byte key in base64). A key's id is the first 16 hex digits of the sha256 of
its raw bytes, so an id can never name another key. Verification runs on the exact
bytes that were signed, before the document is parsed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from pathlib import Path

from qiloop.core.deployments import Deployment, SignedDeployment
from qiloop.core.errors import InvalidRecordError, require

PUBLIC_SUFFIX = ".pub"


class SignatureError(InvalidRecordError):
    """A deployment is unsigned, signed by an unknown key, or its signature does not match."""


def key_id(public_key: bytes) -> str:
    """The id of a raw Ed25519 public key: 16 hex digits of its sha256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def decode_public_key(text: str) -> bytes:
    """A raw 32-byte Ed25519 public key from its base64 text."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRecordError(f"not a base64 public key: {exc}") from exc
    if len(raw) != 32:
        raise InvalidRecordError(f"an Ed25519 public key has 32 bytes, this one {len(raw)}")
    return raw


class TrustStore:
    """The public keys a device accepts deployments from, by key id."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        for kid, raw in keys.items():
            if key_id(raw) != kid:
                raise InvalidRecordError(f"trusted key {kid!r} does not match its own bytes")
        self.keys = dict(keys)

    @classmethod
    def load(cls, folder: str | Path) -> TrustStore:
        """Read every ``*.pub`` file in ``folder`` (an absent folder trusts nobody)."""
        keys = {}
        folder = Path(folder)
        for path in sorted(folder.glob(f"*{PUBLIC_SUFFIX}")) if folder.is_dir() else []:
            raw = decode_public_key(path.read_text())
            keys[key_id(raw)] = raw
        return cls(keys)

    @staticmethod
    def add(folder: str | Path, public_key: bytes) -> Path:
        """Trust a key: write it as ``<key_id>.pub`` in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key_id(public_key)}{PUBLIC_SUFFIX}"
        path.write_text(base64.b64encode(public_key).decode() + "\n")
        return path

    def verify(self, envelope: SignedDeployment | bytes | str) -> Deployment:
        """The deployment inside ``envelope`` if a trusted key signed exactly its bytes.

        Raises:
            SignatureError: Malformed envelope, unknown key, or a signature that does not match.
        """
        if not isinstance(envelope, SignedDeployment):
            try:
                envelope = SignedDeployment.model_validate_json(envelope)
            except ValueError as exc:
                raise SignatureError(
                    "not a signed deployment (unsigned or malformed envelope)",
                    hint="publish deployments with qiloop deploy, which signs them",
                ) from exc
        public = self.keys.get(envelope.key_id)
        if public is None:
            raise SignatureError(
                f"deployment signed by unknown key {envelope.key_id!r}",
                hint="add the fleet's public key to the device's trusted keys",
            )
        ed25519 = require("cryptography.hazmat.primitives.asymmetric.ed25519", "edge")
        exceptions = require("cryptography.exceptions", "edge")
        try:
            signature = base64.b64decode(envelope.signature, validate=True)
            ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, envelope.document.encode())
        except (binascii.Error, ValueError, exceptions.InvalidSignature) as exc:
            raise SignatureError(f"the signature of the deployment does not match key {envelope.key_id!r}") from exc
        return envelope.deployment()
