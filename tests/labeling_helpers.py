"""Labelling-service test helpers: a throwaway PostgreSQL database, tiny images in a real image store, users."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from qiloop.core.records import ImageRecord
from require_helpers import require, require_import

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
PASSWORD = "correct horse battery"


@contextmanager
def postgres_database(prefix: str = "qiloop_labeling") -> Iterator[str]:
    """A fresh database on the local PostgreSQL server (trust auth), dropped afterwards; skips when unreachable."""
    psycopg2 = require_import("postgres", "psycopg2", "psycopg2 is needed to create the test database")
    try:
        admin = psycopg2.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        require("postgres", f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {exc}".strip())
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')  # the name is generated above, not user input
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def png(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    """A small PNG with distinct content per ``seed``."""
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "PNG")
    return out.getvalue()


def ingest_images(store, count: int, first_seed: int = 0) -> list[ImageRecord]:
    """``count`` distinct tiny images ingested into ``store`` (a real ``ImageStore``)."""
    with store.batch():
        return [store.ingest_bytes(png(first_seed + i), name=f"tag-{first_seed + i}.png") for i in range(count)]


def add_users(db, *names: str, role: str = "labeler") -> None:
    """Create accounts named ``names`` with the test password."""
    from qiloop.labeling.workforce import add_user

    with db.session() as session:
        for name in names:
            add_user(session, name, PASSWORD, role)


def labeling_db_url(kind: str, tmp_path: Path, stack) -> str:
    """A database URL of ``kind`` (``sqlite`` or ``postgres``); ``stack`` is an ``ExitStack`` that drops it."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'labeling.db'}"
    return stack.enter_context(postgres_database())
