"""Which deployment documents a device believes: Ed25519 signatures by trusted keys.

The device keeps the public keys it trusts in its home (``trusted-keys/<key_id>.pub``,
the raw 32-byte key in base64; key ids as in :mod:`qiloop.protocol.keys`). Verification
runs on the exact bytes that were signed, before the document is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from qiloop.core.deployments import Deployment, SignedDeployment
from qiloop.core.errors import InvalidRecordError
from qiloop.protocol.keys import SignatureError, check_signature, decode_public_key, encode_public_key, key_id

PUBLIC_SUFFIX = ".pub"


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
        path.write_text(encode_public_key(public_key) + "\n")
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
        check_signature(public, envelope.signature, envelope.document.encode(), what="deployment")
        return envelope.deployment()
