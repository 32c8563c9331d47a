"""Signing deployments: an Ed25519 key in the qiloop home, or any signer you plug in.

The default :class:`FileSigner` keeps the private key at ``<home>/keys/deploy-signing.pem``
(created on first use, mode 0600) and its public key beside it as base64 text — the
file a device adds to its trusted keys. Anything with ``key_id``, ``public_key`` and
``sign(data)`` is a :class:`Signer`, e.g. a KMS-backed key that never leaves its
hardware.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Protocol

from qiloop.core.deployments import Deployment, SignedDeployment
from qiloop.protocol.keys import encode_public_key, key_id, load_or_create_key, raw_public_key

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
        self._key = private_key
        self._public = raw_public_key(private_key)

    @classmethod
    def load_or_create(cls, folder: str | Path) -> FileSigner:
        """The key in ``folder`` (created, with its ``.pub``, when absent)."""
        folder = Path(folder)
        key, created = load_or_create_key(folder / PRIVATE_FILE, what="signing key", hint="restore it")
        signer = cls(key)
        if created:
            (folder / PUBLIC_FILE).write_text(encode_public_key(signer.public_key) + "\n")
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
