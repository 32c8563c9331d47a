"""The device's own key: who it is, for the fleet's device registry, and what signs its messages.

The device key is created on first start at ``<home>/identity/device.pem`` (mode 0600).
Its public half is what an admin registers with the fleet (``qiloop fleet add-key``) or
what the device presents with a one-time enrollment token; from then on the controller
and the collector accept the device's messages only when this key signed them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from qiloop.edge.agent.supervisor import MARKER as AGENT_HOME_ENV  # the nucleus's home, in its children
from qiloop.protocol.keys import encode_public_key
from qiloop.protocol.signed import MessageSigner

KEY_FILE = Path("identity") / "device.pem"


def device_key_path(home: str | Path) -> Path:
    """Where the device key of the device home ``home`` lives."""
    return Path(home) / KEY_FILE


def device_signer(home: str | Path) -> MessageSigner:
    """The signer of the device whose home is ``home`` (its key is created when absent).

    The public key is written beside it as ``identity/device.pub`` (base64), the file an admin
    registers with ``qiloop fleet add-key --key-file``.
    """
    signer = MessageSigner.from_key_file(device_key_path(home))
    public = device_key_path(home).with_suffix(".pub")
    if not public.is_file():
        public.write_text(encode_public_key(signer.public_key) + "\n")
    return signer


def device_public_key(home: str | Path) -> str:
    """The base64 raw public key of the device key in ``home`` (created when absent)."""
    return encode_public_key(device_signer(home).public_key)


DEVICE_KEY_ENV = "QILOOP_DEVICE_KEY"  # a device key file, for a component run outside a nucleus


def signer_from_environment(environ: Mapping[str, str] | None = None) -> MessageSigner | None:
    """The device key a component process signs with: ``QILOOP_DEVICE_KEY``, else its nucleus's key, else None.

    Raises:
        ConfigurationError: ``QILOOP_DEVICE_KEY`` names a file that is not an Ed25519 key.
    """
    environ = os.environ if environ is None else environ
    if environ.get(DEVICE_KEY_ENV):
        return MessageSigner.from_key_file(environ[DEVICE_KEY_ENV])
    home = environ.get(AGENT_HOME_ENV)
    if home and device_key_path(home).is_file():
        return MessageSigner.from_key_file(device_key_path(home))
    return None


HELLO_COUNTER = Path("identity") / "hello-sequence"


def next_hello_sequence(home: str | Path) -> int:
    """The next number of the device's hello: one up from the last, kept in ``identity/hello-sequence``.

    The fleet drops a hello numbered at or below the last one it accepted (a replay, or one
    overtaken by a newer one). A counter, not the clock: a device clock that jumps back would
    otherwise silence the device. A home without the file starts from the clock in
    microseconds, so a counter lost alone does not restart below what the fleet has seen.
    """
    path = Path(home) / HELLO_COUNTER
    try:
        last = int(path.read_text())
    except (OSError, ValueError):
        last = int(time.time() * 1_000_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(str(last + 1))
    os.replace(temporary, path)
    return last + 1
