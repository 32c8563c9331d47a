"""Per-device download tokens for the component file server.

A device's token is ``HMAC-SHA256(secret, device_id)``: the controller keeps one secret
(``<home>/keys/download-token.key``, made on first use) and no table of tokens, a token
opens the files for one device only, and changing the secret revokes every token at once.

The token travels in the path of the device's controller URL, which it is given once::

    https://fleet.example.com:8470/d/<device_id>/<token>

so the nucleus, which appends ``/v1/files/<sha256>``, needs nothing new (the same idea as a
presigned URL). Over HTTPS the path is encrypted; the file server logs no paths.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from qiloop.core.components import NAME_PATTERN
from qiloop.core.errors import ConfigurationError

SECRET_FILE = "download-token.key"
PREFIX = "/d/"
_DEVICE = re.compile(NAME_PATTERN)


class DownloadTokens:
    """Makes and checks device tokens with one secret.

    Example:
        >>> tokens = DownloadTokens(b"k" * 32)
        >>> tokens.check("cam-1", tokens.token("cam-1")), tokens.check("cam-2", tokens.token("cam-1"))
        (True, False)
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ConfigurationError("the download-token secret is shorter than 32 bytes", hint="make a new one")
        self._secret = secret

    @classmethod
    def from_home(cls, home: str | Path) -> DownloadTokens:
        """The tokens of a qiloop home: its secret in ``keys/download-token.key``, made (mode 600) if missing."""
        path = Path(home) / "keys" / SECRET_FILE
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # made by another process at the same moment: read theirs
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_hex(32) + "\n")
        return cls(bytes.fromhex(path.read_text().strip()))

    def token(self, device_id: str) -> str:
        """The device's token (43 URL-safe characters)."""
        if not _DEVICE.match(device_id):
            raise ConfigurationError(f"{device_id!r} is not a device id", hint="lower-case letters, digits, . _ -")
        digest = hmac.new(self._secret, f"qiloop-download\n{device_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def check(self, device_id: str, token: str) -> bool:
        """Whether ``token`` is ``device_id``'s (in constant time)."""
        return bool(_DEVICE.match(device_id)) and hmac.compare_digest(self.token(device_id), token)

    def device_url(self, base: str, device_id: str) -> str:
        """The controller URL to give the device: ``<base>/d/<device_id>/<token>``."""
        return f"{base.rstrip('/')}{PREFIX}{device_id}/{self.token(device_id)}"


def split_path(path: str) -> tuple[str | None, str | None, str]:
    """``(device_id, token, rest)`` of a request path; ``(None, None, path)`` without the device prefix.

    Example:
        >>> split_path("/d/cam-1/abc/v1/files/00")
        ('cam-1', 'abc', '/v1/files/00')
        >>> split_path("/v1/files/00")
        (None, None, '/v1/files/00')
    """
    if not path.startswith(PREFIX):
        return None, None, path
    device, _, rest = path[len(PREFIX) :].partition("/")
    token, _, rest = rest.partition("/")
    return device, token, "/" + rest


__all__ = ["DownloadTokens", "split_path"]
