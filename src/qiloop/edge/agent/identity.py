"""The device's own Ed25519 key: who it is, for the fleet's device registry.

Created on first start at ``<home>/identity/device.pem`` (mode 0600); the public
half goes out in the device's hello, so the controller records which key belongs
to which device id.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from qiloop.core.errors import ConfigurationError, require


def device_public_key(home: str | Path) -> str:
    """The base64 raw public key of the device key in ``home`` (created when absent)."""
    ed25519 = require("cryptography.hazmat.primitives.asymmetric.ed25519", "edge")
    serialization = require("cryptography.hazmat.primitives.serialization", "edge")
    path = Path(home) / "identity" / "device.pem"
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise ConfigurationError(f"cannot read the device key {path}: {exc}", hint="move it aside") from exc
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ConfigurationError(f"{path} is not an Ed25519 key", hint="move it aside; a new one is made")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()
