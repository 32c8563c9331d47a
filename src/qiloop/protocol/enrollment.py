"""Enrollment: how a device proves that an admin's one-time token was meant for it and its key.

The admin creates a token for one device id (``qiloop fleet enroll-token --device ID``); the
fleet keeps only its sha256. The device never sends the token: its hello carries
``enrollment = HMAC-SHA256(sha256(token), "<device_id>\\n<public key>")``, so a proof seen
on the wire cannot enroll any other key or device, and the hello's own signature shows the
device holds that key. The fleet registers the key once and spends the token.
"""

from __future__ import annotations

import hashlib
import hmac


def token_digest(token: str) -> str:
    """What the fleet stores of a token: the hex sha256 of its text."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def enrollment_proof(token: str, device_id: str, public_key: str) -> str:
    """The device's proof that ``token`` enrolls ``public_key`` (base64) as ``device_id``."""
    return proof_from_digest(token_digest(token), device_id, public_key)


def proof_from_digest(digest: str, device_id: str, public_key: str) -> str:
    """The proof as the fleet computes it, from the stored digest."""
    message = f"{device_id}\n{public_key}".encode()
    return hmac.new(bytes.fromhex(digest), message, hashlib.sha256).hexdigest()


def proof_matches(digest: str, device_id: str, public_key: str, proof: str) -> bool:
    """Whether ``proof`` is the right one for the token with ``digest`` (compared in constant time)."""
    return hmac.compare_digest(proof_from_digest(digest, device_id, public_key), proof)
