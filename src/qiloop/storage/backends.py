"""One set of storage options, translated for fsspec and for delta-rs.

qiloop describes where data lives with a URL and a small, generic option dict:

- ``endpoint_url``: an S3-compatible endpoint (MinIO, moto, Ceph ...);
- ``key``, ``secret`` (and ``token``): credentials, normally left out so that the
  standard ``AWS_*`` environment variables (or the instance's role) apply;
- ``region``: the bucket's region.

fsspec/s3fs and delta-rs spell these differently; both functions here take the
generic form and return the library's. Keys that are already in a library's own
spelling pass through: upper-case ``AWS_*`` keys to delta-rs, anything else
unknown to fsspec.
"""

from __future__ import annotations

import os
from pathlib import Path

_GENERIC = ("endpoint_url", "key", "secret", "token", "region")
_S3_SCHEMES = ("s3://", "s3a://")


def is_s3(url: str) -> bool:
    """True for ``s3://`` and ``s3a://`` URLs."""
    return url.startswith(_S3_SCHEMES)


def is_local(url: str) -> bool:
    """True for a plain path or a ``file://`` URL."""
    return "://" not in url or url.startswith("file://")


def local_path(url: str) -> Path:
    """The absolute local path of a plain path or ``file://`` URL."""
    return Path(url.removeprefix("file://")).expanduser().resolve()


def fsspec_options(url: str, options: dict[str, str] | None) -> dict:
    """Keyword arguments for ``fsspec.filesystem`` / ``fsspec.url_to_fs`` for ``url``.

    Example:
        >>> fsspec_options("s3://bucket/images", {"endpoint_url": "http://127.0.0.1:9000"})
        {'client_kwargs': {'endpoint_url': 'http://127.0.0.1:9000'}}
    """
    options = dict(options or {})
    if is_local(url):
        return {}
    if not is_s3(url):
        return options
    out: dict = {k: v for k, v in options.items() if k not in _GENERIC and not k.startswith("AWS_")}
    client_kwargs: dict[str, str] = dict(out.pop("client_kwargs", {}) or {})
    if options.get("endpoint_url"):
        client_kwargs["endpoint_url"] = options["endpoint_url"]
    if options.get("region"):
        client_kwargs["region_name"] = options["region"]
    if client_kwargs:
        out["client_kwargs"] = client_kwargs
    for generic in ("key", "secret", "token"):
        if options.get(generic):
            out[generic] = options[generic]
    return out


def delta_options(url: str, options: dict[str, str] | None) -> dict[str, str]:
    """``storage_options`` for delta-rs (``DeltaTable``, ``write_deltalake``) for ``url``.

    Credentials come from ``options`` when given, else from the ``AWS_*`` environment.
    Commits on S3 use conditional writes (put-if-absent), so several processes can
    append to one table without an external lock.

    Example:
        >>> delta_options("s3://b/t", {"endpoint_url": "http://127.0.0.1:9000"})["AWS_ALLOW_HTTP"]
        'true'
    """
    options = dict(options or {})
    if is_local(url):
        return {}
    if not is_s3(url):
        return {k: str(v) for k, v in options.items() if isinstance(v, str | int | float | bool)}
    out = {k: str(v) for k, v in options.items() if k.startswith("AWS_")}
    endpoint = options.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        out.setdefault("AWS_ENDPOINT_URL", endpoint)
        if endpoint.startswith("http://"):
            out.setdefault("AWS_ALLOW_HTTP", "true")
    region = options.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region or endpoint:
        out.setdefault("AWS_REGION", region or "us-east-1")
    for generic, name in (
        ("key", "AWS_ACCESS_KEY_ID"),
        ("secret", "AWS_SECRET_ACCESS_KEY"),
        ("token", "AWS_SESSION_TOKEN"),
    ):
        value = options.get(generic) or os.environ.get(name)
        if value:
            out.setdefault(name, value)
    out.setdefault("conditional_put", "etag")
    return out
