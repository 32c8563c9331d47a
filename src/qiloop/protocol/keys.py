"""Ed25519 keys on both sides: key files, key ids, public keys as text, signature checks.

A key's id is the first 16 hex digits of the sha256 of its raw 32-byte public key, so an
id can never name another key. Public keys travel as base64 of those 32 bytes. Private
keys live in PEM files created with mode 0600 (the fleet's deployment-signing key, each
device's own key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from qiloop.core.errors import ConfigurationError, InvalidRecordError, require


class SignatureError(InvalidRecordError):
    """Unsigned, signed by an unknown key, or a signature that does not match."""


def key_id(public_key: bytes) -> str:
    """The id of a raw Ed25519 public key: 16 hex digits of its sha256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def encode_public_key(public_key: bytes) -> str:
    """The base64 text of a raw public key (what ``.pub`` files and hellos hold)."""
    return base64.b64encode(public_key).decode()


def decode_public_key(text: str) -> bytes:
    """A raw 32-byte Ed25519 public key from its base64 text.

    Raises:
        InvalidRecordError: Not base64, or not 32 bytes.
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRecordError(f"not a base64 public key: {exc}") from exc
    if len(raw) != 32:
        raise InvalidRecordError(f"an Ed25519 public key has 32 bytes, this one {len(raw)}")
    return raw


def load_or_create_key(path: Path, *, what: str, hint: str) -> tuple[object, bool]:
    """The Ed25519 private key in the PEM file ``path``, created (mode 0600) when absent; and whether it was new.

    Raises:
        ConfigurationError: The file is unreadable or holds another kind of key (``what`` names it, ``hint`` says
            what to do).
    """
    ed25519 = require("cryptography.hazmat.primitives.asymmetric.ed25519", "edge")
    serialization = require("cryptography.hazmat.primitives.serialization", "edge")
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise ConfigurationError(f"cannot read the {what} {path}: {exc}", hint=hint) from exc
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ConfigurationError(f"{path} is not an Ed25519 key", hint=hint)
        return key, False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key, True


def raw_public_key(private_key) -> bytes:
    """The 32 raw bytes of an Ed25519 private key's public half."""
    serialization = require("cryptography.hazmat.primitives.serialization", "edge")
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_signature(public_key: bytes, signature: str, data: bytes, *, what: str = "message") -> None:
    """Check that ``signature`` (base64) is the Ed25519 signature of exactly ``data`` by ``public_key``.

    Raises:
        SignatureError: The signature is not base64 or does not match.
    """
    ed25519 = require("cryptography.hazmat.primitives.asymmetric.ed25519", "edge")
    exceptions = require("cryptography.exceptions", "edge")
    try:
        raw = base64.b64decode(signature, validate=True)
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(raw, data)
    except (binascii.Error, ValueError, exceptions.InvalidSignature) as exc:
        raise SignatureError(f"the signature of the {what} does not match key {key_id(public_key)!r}") from exc
