"""Ed25519 key files, and the device's own key: who it is, for the fleet's device registry.

The device key is created on first start at ``<home>/identity/device.pem`` (mode
0600); its public half goes out in the device's hello, so the controller records
which key belongs to which device id. :func:`load_or_create_key` is also how the
fleet keeps its deployment-signing key.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from qiloop.core.errors import ConfigurationError, require


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


def device_public_key(home: str | Path) -> str:
    """The base64 raw public key of the device key in ``home`` (created when absent)."""
    key, _ = load_or_create_key(
        Path(home) / "identity" / "device.pem", what="device key", hint="move it aside; a new one is made"
    )
    return base64.b64encode(raw_public_key(key)).decode()
