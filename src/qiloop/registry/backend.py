"""The one door to MLflow: a lazy, quiet, offline import and the store locations.

MLflow is imported only when a registry is used, never when ``qiloop.registry``
or the CLI is imported. Before the import, telemetry is switched off (a model
registry on a shop floor must not phone home) and MLflow's database-migration
chatter is lowered to warnings; errors still surface.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from qiloop.core.errors import ConfigurationError, require

_QUIET_LOGGERS = ("mlflow.store.db.utils", "mlflow.store.model_registry.abstract_store", "alembic")


def load_mlflow():
    """Import mlflow offline and quiet, or say which extra installs it."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # qiloop shows its own progress; MLflow's artefact bars would land in --json output and logs.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore", message=r"The ``noload`` loader strategy is deprecated")
    mlflow = require("mlflow", "registry")
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


def error_code(exc: BaseException) -> str | None:
    """MLflow's error code (``RESOURCE_DOES_NOT_EXIST`` ...) of an exception, if it has one."""
    return getattr(exc, "error_code", None)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative or absolute), else ``None``.

    Example:
        >>> sqlite_path("sqlite:////tmp/q/mlflow.db")
        PosixPath('/tmp/q/mlflow.db')
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = unquote(tracking_uri[len("sqlite:///") :].split("?", 1)[0])
    return Path(path) if path and path != ":memory:" else None


def database_uri(uri: str, has_module: Callable[[str], bool] | None = None) -> str:
    """Name an installed PostgreSQL driver in a ``postgresql://`` URI.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; when only
    psycopg2 is installed the URI says so (``postgresql+psycopg2://``).
    ``postgres://`` is read as ``postgresql://``. Other URIs pass unchanged.
    """
    has = has_module or (lambda name: importlib.util.find_spec(name) is not None)
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        return uri
    if not has("psycopg") and has("psycopg2"):
        return f"postgresql+psycopg2://{rest}"
    return f"postgresql://{rest}"


def probe_database(uri: str, timeout_s: int = 5) -> None:
    """Connect once to a server database, failing fast where MLflow would retry for ~100 s.

    SQLite files and tracking servers are not probed. Raises whatever the driver
    raises; the caller turns it into a :class:`~qiloop.core.errors.StoreError`.
    """
    scheme = uri.partition("://")[0].split("+")[0]
    if scheme not in ("postgresql", "mysql", "mssql"):
        return
    sqlalchemy = require("sqlalchemy", "registry")
    connect_args = {"connect_timeout": timeout_s} if scheme in ("postgresql", "mysql") else {}
    engine = sqlalchemy.create_engine(uri, connect_args=connect_args)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def is_remote(tracking_uri: str) -> bool:
    """True for an MLflow tracking server (http/https), which stores artefacts itself."""
    return urlparse(tracking_uri).scheme in ("http", "https", "databricks")


def artifact_root_uri(root: str | Path | None, tracking_uri: str) -> str | None:
    """Where new experiments keep their artefacts, as a URI.

    A local folder becomes an absolute ``file://`` URI; ``s3://`` and other URLs
    pass through. With no root, a SQLite store keeps them in ``artifacts/`` beside
    its database file and a tracking server decides itself (``None``); any other
    database needs an explicit root, since MLflow would otherwise write into the
    current directory.
    """
    if root is None or str(root) == "":
        db = sqlite_path(tracking_uri)
        if db is not None:
            root = db.parent / "artifacts"
        elif is_remote(tracking_uri):
            return None
        else:
            raise ConfigurationError(
                f"no artefact location given for the tracking store {redact(tracking_uri)}",
                hint="pass artifact_root (a folder or an s3:// URL) or set QILOOP_MLFLOW_ARTIFACT_ROOT",
            )
    text = str(root)
    if "://" in text:
        return text.rstrip("/")
    return Path(text).expanduser().resolve().as_uri()


def redact(uri: str) -> str:
    """The URI without a password, safe to print in errors."""
    parsed = urlparse(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri
