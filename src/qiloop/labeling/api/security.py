"""Browser-facing protections: security headers, the session cookie's flags, the login form's CSRF token.

The Content-Security-Policy allows scripts, styles and images from this origin
only and no inline script at all, so even text that slipped past escaping could
not run; ``frame-ancestors 'none'`` stops clickjacking. The login form, posted
before any session exists, carries an HMAC of a random nonce that also sits in
a short-lived cookie (a signed double submit): another site can neither read
the cookie nor forge the HMAC without the secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import FastAPI, Request
from starlette.responses import Response

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
LOGIN_COOKIE = "qiloop_login"


def install_security_headers(app: FastAPI, *, https: bool) -> None:
    """Add the security headers to every response; pages and API answers are never cached by shared caches."""

    @app.middleware("http")
    async def _headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        if https:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response


def set_cookie(response: Response, name: str, value: str, *, secure: bool, max_age: int, path: str = "/") -> None:
    """A cookie scripts cannot read (HttpOnly), never sent by other sites' requests (SameSite=Strict)."""
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="strict", secure=secure)


def new_login_nonce() -> str:
    """A random nonce for the login cookie."""
    return secrets.token_urlsafe(24)


def login_token(secret: bytes, nonce: str) -> str:
    """The login form's CSRF token for ``nonce``: an HMAC only this server can make."""
    return hmac.new(secret, b"qiloop-login:" + nonce.encode(), hashlib.sha256).hexdigest()


def login_token_ok(secret: bytes, nonce: str | None, submitted: str | None) -> bool:
    """Whether a posted login form carries the token of the nonce in its cookie."""
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(login_token(secret, nonce), submitted)


def safe_next(target: str | None, default: str) -> str:
    """A redirect target after login: a path on this site only (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
