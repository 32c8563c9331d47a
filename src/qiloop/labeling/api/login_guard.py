"""The login throttle at the HTTP edge: who the client is, admitting a password check, the refusal's header.

The client is ``request.client.host``: the address that connected. Behind a
reverse proxy that is the proxy's, shared by every user, unless
``QILOOP_LABELING_FORWARDED_ALLOW_IPS`` names the proxy; then its
``X-Forwarded-For`` (and ``X-Forwarded-Proto``) are believed, and nobody
else's. The service's own servers (``labeling.api.server``) leave uvicorn's
proxy handling off, since by default it believes any client on the same machine.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from qiloop.labeling import throttle
from qiloop.labeling.errors import ThrottledError

UNKNOWN_CLIENT = "unknown"  # a server that reports no peer address (a Unix socket)


def client_address(request: Request) -> str:
    """The address the request came from, as the throttle counts it."""
    return request.client.host if request.client and request.client.host else UNKNOWN_CLIENT


def admit(request: Request, username: str) -> None:
    """Let a password check for ``username`` go ahead, in a transaction of its own (see ``labeling.throttle``).

    Raises:
        ThrottledError: Too many recent failures for the username or from this client.
    """
    with request.app.state.db.session() as session:
        throttle.admit(session, request.app.state.options.login_policy, username, client_address(request))


def with_retry_after(response: Response, refusal: ThrottledError) -> Response:
    """``response`` telling the client when to try again (``Retry-After``, in seconds)."""
    response.headers["Retry-After"] = str(max(1, refusal.retry_after_s))
    return response


def install_proxy_headers(app: FastAPI, trusted: str) -> None:
    """Believe ``X-Forwarded-For``/``-Proto`` from the proxies in ``trusted`` (comma-separated; empty: none)."""
    if trusted.strip():
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
