"""Signing deployments: an Ed25519 key in the qiloop home, or any signer you plug in.

The default :class:`FileSigner` keeps the private key at ``<home>/keys/deploy-signing.pem``
(created on first use, mode 0600) and its public key beside it as base64 text — the
file a device adds to its trusted keys. Anything with ``key_id``, ``public_key`` and
``sign(data)`` is a :class:`Signer`, e.g. a KMS-backed key that never leaves its
hardware.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Protocol

from qiloop.core.deployments import Deployment, SignedDeployment
from qiloop.core.errors import ConfigurationError, require
from qiloop.edge.agent.trust import key_id

PRIVATE_FILE = "deploy-signing.pem"
PUBLIC_FILE = "deploy-signing.pub"


class Signer(Protocol):
    @property
    def key_id(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


class FileSigner:
    """An Ed25519 private key kept in a PEM file."""

    def __init__(self, private_key) -> None:
        serialization = require("cryptography.hazmat.primitives.serialization", "edge")
        self._key = private_key
        self._public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @classmethod
    def load_or_create(cls, folder: str | Path) -> FileSigner:
        """The key in ``folder`` (created, with its ``.pub``, when absent)."""
        ed25519 = require("cryptography.hazmat.primitives.asymmetric.ed25519", "edge")
        serialization = require("cryptography.hazmat.primitives.serialization", "edge")
        folder = Path(folder)
        path = folder / PRIVATE_FILE
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except ValueError as exc:
                raise ConfigurationError(f"cannot read the signing key {path}: {exc}", hint="restore it") from exc
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise ConfigurationError(f"{path} is not an Ed25519 key")
            return cls(key)
        folder.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        signer = cls(key)
        (folder / PUBLIC_FILE).write_text(base64.b64encode(signer.public_key).decode() + "\n")
        return signer

    @property
    def key_id(self) -> str:
        return key_id(self._public)

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


def sign_deployment(deployment: Deployment, signer: Signer) -> SignedDeployment:
    """The signed envelope: the canonical bytes, the key id and the base64 signature."""
    document = deployment.canonical()
    signature = base64.b64encode(signer.sign(document)).decode()
    return SignedDeployment(document=document.decode(), key_id=signer.key_id, signature=signature)
