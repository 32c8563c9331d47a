"""How the labelling web service runs: its environment, secret key and cookie policy.

The secret key signs the login form's CSRF token (the one form that is posted
before a session exists). Sessions themselves are random tokens looked up in
the database, so the key never protects them; but a login form whose token
anyone can forge lets another site log a browser into an account of the
attacker's choosing (login CSRF). The built-in development key is public (it is
in this file), so the service refuses to start with it unless
``QILOOP_ENV=development``, the default for a laptop. Production sets
``QILOOP_ENV=production`` and ``QILOOP_LABELING_SECRET_KEY`` (at least 32
characters, from the environment only, never a file in the repository).

Password guessing is throttled per username and per client address (see
``labeling.throttle``). The client is the address that connected: behind a
reverse proxy every request comes from the proxy's address, so the per-client
limit counts all users together, unless ``QILOOP_LABELING_FORWARDED_ALLOW_IPS``
names the proxy, whose ``X-Forwarded-For`` is then believed. Nobody else's is:
a client could otherwise claim a new address for every guess.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from qiloop.core.errors import ConfigurationError
from qiloop.labeling.throttle import Policy

DEVELOPMENT_SECRET = "qiloop-development-secret-key-do-not-use-in-production"
DEVELOPMENT = "development"


class WebOptions(BaseSettings):
    """The labelling service's web settings, read from ``QILOOP_*`` environment variables.

    Example:
        >>> WebOptions(env="production", labeling_secret_key="x" * 40).check().env
        'production'
    """

    model_config = SettingsConfigDict(env_prefix="QILOOP_", extra="ignore")

    env: str = Field(default=DEVELOPMENT, description="development, staging or production (QILOOP_ENV).")
    labeling_secret_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET), description="Signs the login form's CSRF token."
    )
    labeling_https: bool = Field(
        default=False, description="Served over HTTPS (directly or behind a proxy): Secure cookies and HSTS."
    )
    session_hours: float = Field(default=12.0, gt=0, description="How long a browser session lives.")
    labeling_max_upload_mib: float = Field(
        default=64.0, gt=0, description="Largest request body in MiB, image uploads included; larger ones get 413."
    )
    labeling_login_max_failures: int = Field(
        default=5,
        gt=0,
        description="Failed password checks per username within the window before attempts are refused.",
    )
    labeling_login_max_client_failures: int = Field(
        default=20, gt=0, description="Failed password checks per client address within the window, any usernames."
    )
    labeling_login_window_minutes: float = Field(
        default=15.0, gt=0, description="How long a failed password check counts against its username and client."
    )
    labeling_forwarded_allow_ips: str = Field(
        default="",
        description="Reverse proxies (comma-separated addresses, * for any) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; empty: none, a request's client is the address that connected.",
    )

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.labeling_max_upload_mib * 1024 * 1024)

    @property
    def login_policy(self) -> Policy:
        return Policy(
            max_failures=self.labeling_login_max_failures,
            max_client_failures=self.labeling_login_max_client_failures,
            window=timedelta(minutes=self.labeling_login_window_minutes),
        )

    @property
    def secret(self) -> bytes:
        return self.labeling_secret_key.get_secret_value().encode()

    def check(self) -> WebOptions:
        """Refuse to run with the public development key, or a short key, outside development.

        Raises:
            ConfigurationError: The key is the development default (or too short) and ``env`` is not development.
        """
        key = self.labeling_secret_key.get_secret_value()
        if self.env == DEVELOPMENT:
            return self
        if key == DEVELOPMENT_SECRET:
            raise ConfigurationError(
                f"the labelling service runs with QILOOP_ENV={self.env!r} but the built-in development secret key",
                hint="set QILOOP_LABELING_SECRET_KEY to a random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`",
            )
        if len(key) < 32:
            raise ConfigurationError(
                f"QILOOP_LABELING_SECRET_KEY has {len(key)} characters; at least 32 are needed outside development",
                hint="generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`",
            )
        return self
