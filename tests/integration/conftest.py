"""Fixtures shared by the integration tests: a throwaway PostgreSQL database, an S3-compatible server.

``postgres_url`` creates a fresh database on the local server (127.0.0.1:5432, trust
auth), hands over its URL and drops it afterwards. ``s3_server`` starts moto's S3 server
on loopback for a test module. Without the server, psycopg2 or moto the test skips with
the reason, and fails where that kind is required (CI, see require_helpers).
"""

from __future__ import annotations

import select
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from require_helpers import require, require_import

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def postgres_url(request) -> str:
    """The URL of a new, empty PostgreSQL database, dropped after the test (its name says which test made it)."""
    psycopg2 = require_import("postgres", "psycopg2", "psycopg2 is needed to create the test database")
    try:
        admin = psycopg2.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        require("postgres", f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {exc}".strip())
    admin.autocommit = True
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:24]
    name = f"qiloop_{module}_{uuid.uuid4().hex[:12]}".lower()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')  # name is generated above, not user input
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# moto's server in a process of its own: delta-rs holds the GIL in some calls (reading a table's commit
# history), so a server thread inside the test process would never get to answer them.
MOTO_SERVER = (
    "from moto.server import ThreadedMotoServer as S; import time; "
    "s = S(ip_address='127.0.0.1', port=0, verbose=False); s.start(); "
    "print(s.get_host_and_port()[1], flush=True); time.sleep(10**6)"
)
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Server:
    """A running S3-compatible server: its endpoint URL, and buckets made on it."""

    url: str

    def bucket(self, name: str) -> str:
        """Create the bucket ``name`` (if it is not there yet); its URL, ``s3://name``."""
        import s3fs

        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": self.url})
        if not fs.exists(name):
            fs.mkdir(name)
        return f"s3://{name}"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port for one test module, with its dummy credentials in the environment."""
    require_import("s3", "moto.server", "the S3 tests need moto[server] (the dev extra)")
    require_import("s3", "s3fs", "the S3 tests need s3fs (the store extra)")
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as stderr:
        server = subprocess.Popen([sys.executable, "-c", MOTO_SERVER], stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        ready, _, _ = select.select([server.stdout], [], [], 60)
        port = server.stdout.readline().strip() if ready else ""
        if not port.isdigit():
            pytest.fail(f"the moto S3 server did not start: {log.read_text()[-2000:] or 'no output in 60 s'}")
        with pytest.MonkeyPatch.context() as env:
            for name, value in S3_CREDENTIALS.items():
                env.setenv(name, value)
            env.delenv("AWS_PROFILE", raising=False)
            yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.kill()
        server.wait(timeout=10)
